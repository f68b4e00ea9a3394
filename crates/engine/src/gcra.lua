-- GCRA for one token, on Redis' own clock: the same arithmetic as tessera-core's
-- ratelimit::check, so every node shares one bucket per token.
--
-- KEYS[1]  the token's bucket
-- ARGV[1]  emission interval, ns (one request's worth of time)
-- ARGV[2]  capacity, ns (interval x burst)
-- ARGV[3], ARGV[4]  optional "now" as seconds and nanoseconds (tests only; else TIME)
--
-- Returns {allowed (0/1), remaining, reset_ms, retry_after_ms}.
--
-- Lua numbers are doubles: nanoseconds since the epoch would not be exact, so a time is
-- kept as a (seconds, nanoseconds) pair, and only differences between times (a bucket's
-- span, exact up to about 104 days) are taken in plain nanoseconds.

local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local now_s, now_ns
if ARGV[3] then
  now_s, now_ns = tonumber(ARGV[3]), tonumber(ARGV[4])
else
  local time = redis.call('TIME')
  now_s, now_ns = tonumber(time[1]), tonumber(time[2]) * 1000
end

-- start = max(tat, now): an empty or expired bucket starts now.
local start_s, start_ns = now_s, now_ns
local stored = redis.call('GET', KEYS[1])
if stored then
  local s, ns = string.match(stored, '^(%d+):(%d+)$')
  s, ns = tonumber(s), tonumber(ns)
  if s and (s > now_s or (s == now_s and ns > now_ns)) then
    start_s, start_ns = s, ns
  end
end

local function ceil_ms(n)
  local q = math.floor(n / 1000000)
  if q * 1000000 < n then q = q + 1 end
  return q
end

local ahead = (start_s - now_s) * 1000000000 + (start_ns - now_ns)
local occupied = ahead + interval
if occupied > capacity then
  local retry = ceil_ms(occupied - capacity)
  if retry < 1 then retry = 1 end
  return {0, 0, ceil_ms(ahead), retry}
end

local remaining = math.floor((capacity - occupied) / interval)
if remaining * interval > capacity - occupied then remaining = remaining - 1 end

-- tat = start + interval, carried into whole seconds.
local next_ns = start_ns + interval
local carry = math.floor(next_ns / 1000000000)
local next_s = start_s + carry
next_ns = next_ns - carry * 1000000000
-- Kept until the bucket is full again (then it is the same as no key).
redis.call('SET', KEYS[1], string.format('%d:%d', next_s, next_ns), 'PX', ceil_ms(occupied) + 1000)
return {1, remaining, ceil_ms(occupied), 0}
