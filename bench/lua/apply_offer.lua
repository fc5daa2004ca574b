-- POST /api/v1/intercept/apply-offer: a discount offer on a seeded subscription, against
-- the instant fake Stripe.
package.path = "bench/lua/?.lua;" .. package.path
local c = require("common")
local apply_offer = tonumber(os.getenv("BENCH_APPLY_OFFER_ID") or "1")
function request()
  local n = math.random(1, c.users)
  return c.post("/api/v1/intercept/apply-offer", string.format(
    '{"offer_id":%d,"stripe_subscription_id":"sub_%d","user_email":"user%d@bench.test","mrr_value":49}',
    apply_offer, n, n))
end
