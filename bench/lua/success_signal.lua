-- POST /api/v1/success-signal: payment events (which end dunning) and product events.
package.path = "bench/lua/?.lua;" .. package.path
local c = require("common")
local events = {"payment_succeeded", "invoice.paid", "report_exported", "teammate_invited"}
function request()
  return c.post("/api/v1/success-signal", string.format(
    '{"event":"%s","user_email":"%s"}', events[math.random(1, #events)], c.who()))
end
