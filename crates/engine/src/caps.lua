-- A capped token's uses and credits, shared by every node, spent in one step: the
-- same rules as tessera-core's usage::spend. A script runs alone on the server, so
-- two nodes spending at once are counted one after the other, and no balance is
-- ever spent past its cap.
--
-- KEYS[1]   the token's use count
-- KEYS[2]   its credits ({left, period}), of the balance given at one time (the key
--           names it), so that an edit that gives new credits starts a new key
-- ARGV[1]   max_uses, or -1 for none
-- ARGV[2]   the uses this node knows of, for a count Redis does not have (first
--           use, or Redis lost it): never below what the store holds
-- ARGV[3]   1 if the token has credits, else 0
-- ARGV[4], ARGV[5]  the credits left and their refill period this node knows of,
--           for a balance Redis does not have
-- ARGV[6]   the refill amount, or -1 for none
-- ARGV[7]   the refill period now (days or months since 1970, the node's clock)
-- ARGV[8]   the cost
-- ARGV[9]   how long an idle count is kept, ms
--
-- Returns {allowed (0/1), uses, credits left, period}: after the spend, or as they
-- stand when refused. Numbers stay below 2^53, exact in Lua's doubles; they are
-- written with %d, as the default formatting would write 1e+12.

local max_uses = tonumber(ARGV[1])
local uses = tonumber(redis.call('GET', KEYS[1]) or ARGV[2])
local known_uses = tonumber(ARGV[2])
if known_uses > uses then uses = known_uses end

local has_credits = ARGV[3] == '1'
local left, period = 0, 0
if has_credits then
  local stored = redis.call('HMGET', KEYS[2], 'left', 'period')
  if stored[1] then
    left, period = tonumber(stored[1]), tonumber(stored[2])
  else
    left, period = tonumber(ARGV[4]), tonumber(ARGV[5])
  end
  local refill, now_period = tonumber(ARGV[6]), tonumber(ARGV[7])
  if refill >= 0 and now_period > period then
    left, period = refill, now_period
  end
end

local cost = tonumber(ARGV[8])
local keep = tonumber(ARGV[9])
local allowed = (max_uses < 0 or uses < max_uses) and ((not has_credits) or left >= cost)
if allowed then
  uses = uses + 1
  if has_credits then left = left - cost end
end
redis.call('SET', KEYS[1], string.format('%d', uses), 'PX', keep)
if has_credits then
  redis.call('HSET', KEYS[2], 'left', string.format('%d', left), 'period', string.format('%d', period))
  redis.call('PEXPIRE', KEYS[2], keep)
end
return {allowed and 1 or 0, uses, left, period}
