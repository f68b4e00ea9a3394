CREATE FUNCTION tessera_lock_for_change(roots TEXT[], changed TEXT[], shared TEXT[])
RETURNS SETOF TEXT LANGUAGE plpgsql AS $$
DECLARE
    token TEXT;
    exclusive BOOLEAN;
BEGIN
    IF cardinality(shared) = 0 THEN
        -- One strength of lock: one statement, not one per token.
        RETURN QUERY
            WITH RECURSIVE subtree(id) AS (
                SELECT unnest(roots)
                UNION
                SELECT unnest(ARRAY(SELECT t.id FROM tokens t WHERE t.parent_id = s.id))
                FROM subtree s)
            SELECT t.id FROM tokens t
            WHERE t.id = ANY(ARRAY(SELECT id FROM subtree UNION SELECT unnest(changed)))
            ORDER BY t.id FOR UPDATE;
        RETURN;
    END IF;
    FOR token, exclusive IN
        WITH RECURSIVE subtree(id) AS (
            SELECT unnest(roots)
            UNION
            SELECT unnest(ARRAY(SELECT t.id FROM tokens t WHERE t.parent_id = s.id))
            FROM subtree s)
        SELECT wanted.id, bool_or(wanted.exclusive)
        FROM (SELECT id, TRUE AS exclusive FROM subtree
              UNION ALL SELECT unnest(changed), TRUE
              UNION ALL SELECT unnest(shared), FALSE) AS wanted
        GROUP BY wanted.id
        ORDER BY wanted.id
    LOOP
        IF exclusive THEN
            PERFORM 1 FROM tokens WHERE id = token FOR UPDATE;
            IF FOUND THEN
                RETURN NEXT token;
            END IF;
        ELSE
            PERFORM 1 FROM tokens WHERE id = token FOR KEY SHARE;
        END IF;
    END LOOP;
END
$$;
