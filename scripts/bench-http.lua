-- wrk script for scripts/bench: one request shape, read from the environment, and a
-- JSON summary line at the end.
--   BENCH_METHOD    GET or POST (default GET)
--   BENCH_BODY      the request body, if any (sent as application/json)
--   BENCH_TOKEN     sent as `Authorization: Bearer ...`, if set
--   BENCH_ORIGINAL  `METHOD URI` of the guarded request, for forward-auth
--   BENCH_DELAY_MS  pause before each request on a connection (an open-ish load
--                   at a chosen rate; wrk's own loop is closed)
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local original = os.getenv("BENCH_ORIGINAL")
if original and original ~= "" then
  local method, uri = original:match("^(%S+) (%S+)$")
  wrk.headers["X-Original-Method"] = method
  wrk.headers["X-Original-URI"] = uri
end
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
  function delay()
    return pause
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests_per_second": %.0f, "p50_us": %d, "p99_us": %d, "requests": %d, "failed": %d}\n',
    summary.requests / seconds, latency:percentile(50), latency:percentile(99),
    summary.requests, failed))
end
