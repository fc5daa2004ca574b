-- POST /api/v1/dunning: a failed payment of a seeded end user.
package.path = "bench/lua/?.lua;" .. package.path
local c = require("common")
function request()
  return c.post("/api/v1/dunning", string.format('{"user_email":"%s"}', c.who()))
end
