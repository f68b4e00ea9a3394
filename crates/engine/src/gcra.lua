-- GCRA on Redis' own clock, for one request against one bucket or several at once:
-- the same arithmetic as tessera-core's ratelimit::check and check_all, so every
-- node shares one bucket per token. With several buckets (a token's and those of
-- the tokens it was made through), the request is allowed only if each has room,
-- and then spent from all; refused by the first that has none, spending from none.
-- A script runs alone on the server, so no other request sees the buckets half spent.
--
-- KEYS[i]                    bucket i
-- ARGV[2i-1], ARGV[2i]       its emission interval, ns (one request's worth of time),
--                            and capacity, ns (interval x burst)
-- ARGV[2n+1], ARGV[2n+2]     optional "now" as seconds and nanoseconds (tests only; else TIME)
--
-- Returns {allowed (0/1), remaining, reset_ms, retry_after_ms, bucket}: the refusing
-- bucket's answer, or the tightest one's (fewest left), and which bucket that is.
--
-- Lua numbers are doubles: nanoseconds since the epoch would not be exact, so a time is
-- kept as a (seconds, nanoseconds) pair, and only differences between times (a bucket's
-- span, exact up to about 104 days) are taken in plain nanoseconds.

local n = #KEYS
local now_s, now_ns
if ARGV[2 * n + 1] then
  now_s, now_ns = tonumber(ARGV[2 * n + 1]), tonumber(ARGV[2 * n + 2])
else
  local time = redis.call('TIME')
  now_s, now_ns = tonumber(time[1]), tonumber(time[2]) * 1000
end

local function ceil_ms(x)
  local q = math.floor(x / 1000000)
  if q * 1000000 < x then q = q + 1 end
  return q
end

local spends = {}
local tightest = nil
for i = 1, n do
  local interval = tonumber(ARGV[2 * i - 1])
  local capacity = tonumber(ARGV[2 * i])
  -- start = max(tat, now): an empty or expired bucket starts now.
  local start_s, start_ns = now_s, now_ns
  local stored = redis.call('GET', KEYS[i])
  if stored then
    local s, ns = string.match(stored, '^(%d+):(%d+)$')
    s, ns = tonumber(s), tonumber(ns)
    if s and (s > now_s or (s == now_s and ns > now_ns)) then
      start_s, start_ns = s, ns
    end
  end
  local ahead = (start_s - now_s) * 1000000000 + (start_ns - now_ns)
  local occupied = ahead + interval
  if occupied > capacity then
    local retry = ceil_ms(occupied - capacity)
    if retry < 1 then retry = 1 end
    return {0, 0, ceil_ms(ahead), retry, i}
  end
  local remaining = math.floor((capacity - occupied) / interval)
  if remaining * interval > capacity - occupied then remaining = remaining - 1 end
  -- tat = start + interval, carried into whole seconds.
  local next_ns = start_ns + interval
  local carry = math.floor(next_ns / 1000000000)
  spends[i] = {start_s + carry, next_ns - carry * 1000000000, ceil_ms(occupied)}
  if tightest == nil or remaining < tightest[1] then
    tightest = {remaining, ceil_ms(occupied), i}
  end
end

for i = 1, n do
  local spend = spends[i]
  -- Kept until the bucket is full again (then it is the same as no key).
  redis.call('SET', KEYS[i], string.format('%d:%d', spend[1], spend[2]), 'PX', spend[3] + 1000)
end
return {1, tightest[1], tightest[2], 0, tightest[3]}
