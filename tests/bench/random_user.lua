-- wrk: each request asks for a random user's token. USERS users u1..uN;
-- ZIPF=1 draws them with Zipf-like popularity (weight 1/rank). With
-- ORGS=k and KEYS="key1,key2,…" (one API key per org, orgs bench, bench2 …
-- benchk) the user of rank r is u<ceil(r/k)> of org ((r-1) mod k)+1, so the
-- popular users are spread over every org and each org is asked with its
-- own key.
local users = tonumber(os.getenv("USERS") or "1000")
local zipf = os.getenv("ZIPF") == "1"
local orgs = tonumber(os.getenv("ORGS") or "1")
local keys = {}
for key in string.gmatch(os.getenv("KEYS") or "", "[^,]+") do keys[#keys + 1] = key end
local cdf = {}

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
  local rank = pick()
  if orgs <= 1 then
    return wrk.format("GET", "/api/v1/orgs/bench/users/u" .. rank .. "@scale.example/token")
  end
  local o = (rank - 1) % orgs + 1
  local slug = o == 1 and "bench" or ("bench" .. o)
  local user = math.ceil(rank / orgs)
  return wrk.format("GET", "/api/v1/orgs/" .. slug .. "/users/u" .. user .. "@scale.example/token",
    { Authorization = "Bearer " .. keys[o] })
end
