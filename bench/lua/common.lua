-- Shared by the endpoint scripts: JSON POSTs with the organization's key (or, with
-- BENCH_TOKENS naming a file of session tokens, as end users in their browsers: a token per
-- request, the end user taken from it), a per-thread random stream, and a one-line JSON
-- summary that bench/run reads.
local M = {}

M.key = os.getenv("BENCH_KEY") or "slk_missing"
M.users = tonumber(os.getenv("BENCH_USERS") or "100000")
M.offers = {}
for id in string.gmatch(os.getenv("BENCH_OFFER_IDS") or "1", "%d+") do
  M.offers[#M.offers + 1] = tonumber(id)
end

-- Session tokens, one per line (bench/seed.py tokens): requests then carry
-- `Authorization: Bearer` and no end user in their bodies.
M.tokens = nil
local tokens_file = os.getenv("BENCH_TOKENS")
if tokens_file and tokens_file ~= "" then
  M.tokens = {}
  for line in io.lines(tokens_file) do
    M.tokens[#M.tokens + 1] = line
  end
end

-- The share of requests that name an end user never seen before (BENCH_NEW_SHARE, 0 to 1):
-- 1 is first sight, every request a new person; 0 names only seeded end users.
M.new_share = tonumber(os.getenv("BENCH_NEW_SHARE") or "0")

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
  -- New people's emails are unique per wrk run and thread (a run's warm-up is a run too).
  M.fresh_prefix = string.format("new%d-%d-%d", os.time(), thread_id or 0, math.random(1, 1e9))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Knot-Key"] = M.key
end

-- A seeded end user, by email.
function M.email()
  return string.format("user%d@bench.test", math.random(1, M.users))
end

-- An end user never seen before, by email.
local fresh = 0
function M.new_email()
  fresh = fresh + 1
  return string.format("%s-%d@bench.test", M.fresh_prefix, fresh)
end

-- The end user a request names: new with probability BENCH_NEW_SHARE, else seeded.
function M.who()
  if M.new_share > 0 and math.random() < M.new_share then
    return M.new_email()
  end
  return M.email()
end

-- The body's end-user fields (with a leading comma): none for a session, whose token names
-- the end user.
function M.who_field()
  if M.tokens then
    return ""
  end
  return string.format(',"user_email":"%s"', M.who())
end

function M.offer()
  return M.offers[math.random(1, #M.offers)]
end

function M.post(path, body)
  if M.tokens then
    return wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. M.tokens[math.random(1, #M.tokens)],
    }, body)
  end
  return wrk.format("POST", path, nil, body)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end

return M
