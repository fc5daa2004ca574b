-- POST /api/v1/intercept/apply-offer: a discount offer on a subscription, against the
-- instant fake Stripe; a new end user (BENCH_NEW_SHARE) has a subscription of its own.
package.path = "bench/lua/?.lua;" .. package.path
local c = require("common")
local apply_offer = tonumber(os.getenv("BENCH_APPLY_OFFER_ID") or "1")
function request()
  local email = c.who()
  local subscription = string.format("sub_%s", email:match("^[^@]+"))
  return c.post("/api/v1/intercept/apply-offer", string.format(
    '{"offer_id":%d,"stripe_subscription_id":"%s","user_email":"%s","mrr_value":49}',
    apply_offer, subscription, email))
end
