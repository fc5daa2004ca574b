-- The production mix: what a company's cancel flows send in a day, by share of requests —
-- intercept 50 %, sentiment (a reason) 20 %, outcome 20 %, success signal 5 %, dunning 5 %.
-- Intercepts and reasons name a new end user 60 % of the time (people cancel once; the rest
-- come back), outcomes and payment events a returning one (BENCH_NEW_SHARE is not read).
package.path = "bench/lua/?.lua;" .. package.path
local c = require("common")
local triggers = {"click", "exit_intent", "hover"}
local reasons = {
  "Too expensive for our budget right now",
  "Our busy season is over, we will be back in spring",
  "We never managed to set it up, too complicated",
  "The app keeps crashing and support never answered",
  "The company is shutting down",
}
local events = {"payment_succeeded", "report_exported"}
local function first_or_returning()
  if math.random() < 0.6 then return c.new_email() end
  return c.email()
end
function request()
  local r = math.random()
  if r < 0.5 then
    return c.post("/api/v1/intercept", string.format(
      '{"target_id":"cancel-btn","user_email":"%s","trigger":"%s","mrr_value":%d}',
      first_or_returning(), triggers[math.random(1, 3)], math.random(5, 500)))
  elseif r < 0.7 then
    return c.post("/api/v1/intercept/sentiment", string.format(
      '{"reason":"%s","user_email":"%s","target_id":"cancel-btn"}',
      reasons[math.random(1, #reasons)], first_or_returning()))
  elseif r < 0.9 then
    return c.post("/api/v1/intercept/outcome", string.format(
      '{"offer_id":%d,"status":"%s","user_email":"%s","mrr_value":%d}',
      c.offer(), math.random() < 0.5 and "saved" or "abandoned", c.email(), math.random(5, 500)))
  elseif r < 0.95 then
    return c.post("/api/v1/success-signal", string.format(
      '{"event":"%s","user_email":"%s"}', events[math.random(1, #events)], c.email()))
  end
  return c.post("/api/v1/dunning", string.format('{"user_email":"%s"}', c.email()))
end
