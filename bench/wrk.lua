-- wrk script of bench/http.py: the request as a signed-in browser or an API client sends it.
--   BENCH_USER_AGENT     the User-Agent of the log-in (the session is bound to it)
--   BENCH_COOKIE         the session cookie, for pages
--   BENCH_AUTHORIZATION  "Bearer <token>", for the API
--   BENCH_FORM           a urlencoded form to POST; "{n}" in it is numbered per request
-- done() prints "status <code> <count>" for every status seen, and "status login <count>"
-- for redirects to the log-in page, so bench/http.py can tell a working run from a refused one;
-- and "p95 <microseconds>", which wrk's --latency table does not show.

wrk.headers["User-Agent"] = os.getenv("BENCH_USER_AGENT") or "coprod-bench"
local cookie = os.getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then wrk.headers["Cookie"] = cookie end
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then wrk.headers["Authorization"] = authorization end

local form = os.getenv("BENCH_FORM")
local counter = 0
if form and form ~= "" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  request = function()
    counter = counter + 1
    local body = string.gsub(form, "{n}", tostring(counter))
    return wrk.format("POST", nil, nil, body)
  end
end

statuses = {}
response = function(status, headers, body)
  local key = tostring(status)
  local location = headers["Location"] or headers["location"] or ""
  if status >= 300 and status < 400 and string.find(location, "/login", 1, true) then
    key = "login"
  end
  statuses[key] = (statuses[key] or 0) + 1
end

local threads = {}
setup = function(thread) table.insert(threads, thread) end

done = function(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for key, count in pairs(thread:get("statuses")) do
      total[key] = (total[key] or 0) + count
    end
  end
  for key, count in pairs(total) do
    io.write(string.format("status %s %d\n", key, count))
  end
  io.write(string.format("p95 %d\n", latency:percentile(95)))
end
