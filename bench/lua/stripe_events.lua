-- POST /api/v1/stripe/webhooks/{endpoint id}: Stripe's events, pre-signed by
-- `seed.py stripe-events` (HMAC per event is too dear to compute in wrk's Lua), one
-- `Stripe-Signature<TAB>body` per line of BENCH_EVENTS_FILE; each wrk thread takes every
-- BENCH_THREADS-th line. A thread that runs out starts over: those are redeliveries too.
package.path = "bench/lua/?.lua;" .. package.path
local c = require("common")
local path = os.getenv("BENCH_WEBHOOK_PATH") or "/api/v1/stripe/webhooks/missing"
local file = os.getenv("BENCH_EVENTS_FILE") or "/dev/null"
local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
local signatures, bodies, next_line = {}, {}, 0

local common_init = init
function init(args)
  common_init(args)
  wrk.headers["X-Knot-Key"] = nil
  local n = 0
  for line in io.lines(file) do
    if n % threads == (thread_id or 1) - 1 then
      local signature, body = string.match(line, "^([^\t]*)\t(.*)$")
      signatures[#signatures + 1] = signature
      bodies[#bodies + 1] = body
    end
    n = n + 1
  end
end

function request()
  next_line = next_line % #bodies + 1
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json; charset=utf-8",
    ["Stripe-Signature"] = signatures[next_line],
  }, bodies[next_line])
end
