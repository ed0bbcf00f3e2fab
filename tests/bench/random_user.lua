-- wrk: each request asks for a random user's token. USERS users u1..uN;
-- ZIPF=1 draws them with Zipf-like popularity (weight 1/rank). With
-- ORGS=k and KEYS="key1,key2,…" (one API key per org, orgs bench, bench2 …
-- benchk) the user of rank r is u<ceil(r/k)> of org ((r-1) mod k)+1, so the
-- popular users are spread over every org and each org is asked with its
-- own key.
--
-- wrk runs on the same two cores as the server, so whatever this script
-- does per request is taken from the server and shows up as a lower ratio
-- against /healthz (a static request, no script). Per request it therefore
-- only picks a prepared request: the Zipf mix draws POOL (65,536) requests
-- up front from the same distribution and cycles through them (each
-- thread from its own random start), and uniform users, too many to
-- prepare at a million, cost one random number and one concatenation.
local users = tonumber(os.getenv("USERS") or "1000")
local zipf = os.getenv("ZIPF") == "1"
local orgs = tonumber(os.getenv("ORGS") or "1")
local pool_size = tonumber(os.getenv("POOL") or "65536")
local keys = {}
for key in string.gmatch(os.getenv("KEYS") or "", "[^,]+") do keys[#keys + 1] = key end

local pool, next_index = {}, 1
local head, tail = {}, {}

-- The request line and headers of user `user` of org `o`, split around the
-- user number, as wrk.format would write them.
local function template(o)
  local slug = o == 1 and "bench" or ("bench" .. o)
  -- One org: the key given with -H (wrk.headers); several: each its own.
  local headers = nil
  if orgs > 1 then headers = { Authorization = "Bearer " .. keys[o] } end
  local mark = "#USER#"
  local whole = wrk.format("GET", "/api/v1/orgs/" .. slug .. "/users/u" .. mark .. "@scale.example/token", headers)
  local cut = whole:find(mark, 1, true)
  return whole:sub(1, cut - 1), whole:sub(cut + #mark)
end

local function request_of(rank)
  if orgs <= 1 then return head[1] .. rank .. tail[1] end
  local o = (rank - 1) % orgs + 1
  return head[o] .. math.ceil(rank / orgs) .. tail[o]
end

function init(args)
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
  for o = 1, math.max(orgs, 1) do head[o], tail[o] = template(o) end
  if not zipf then return end
  local cdf, total, acc = {}, 0, 0
  for k = 1, users do total = total + 1 / k end
  for k = 1, users do acc = acc + (1 / k) / total; cdf[k] = acc end
  local prepared = {}
  for i = 1, pool_size do
    local r, lo, hi = math.random(), 1, users
    while lo < hi do
      local mid = math.floor((lo + hi) / 2)
      if cdf[mid] < r then lo = mid + 1 else hi = mid end
    end
    -- One string per user, shared by every draw of it.
    prepared[lo] = prepared[lo] or request_of(lo)
    pool[i] = prepared[lo]
  end
  next_index = math.random(1, pool_size)
end

function request()
  if zipf then
    next_index = next_index % pool_size + 1
    return pool[next_index]
  end
  return request_of(math.random(1, users))
end
