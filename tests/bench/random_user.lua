-- wrk: each request asks for a random user's token. USERS users u1..uN;
-- ZIPF=1 draws them with Zipf-like popularity (weight 1/rank).
local users = tonumber(os.getenv("USERS") or "1000")
local zipf = os.getenv("ZIPF") == "1"
local cdf = {}
local non2xx = 0

function setup(thread) thread:set("id", tostring(thread)) end

function init(args)
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
  if zipf then
    local total = 0
    for k = 1, users do total = total + 1 / k end
    local acc = 0
    for k = 1, users do acc = acc + (1 / k) / total; cdf[k] = acc end
  end
end

local function pick()
  if not zipf then return math.random(1, users) end
  local r, lo, hi = math.random(), 1, users
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < r then lo = mid + 1 else hi = mid end
  end
  return lo
end

function request()
  return wrk.format("GET", "/api/v1/orgs/bench/users/u" .. pick() .. "@scale.example/token")
end
