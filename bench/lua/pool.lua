-- wrk script for bench/run.py. Each request takes the next line of the file BENCH_POOL (each
-- wrk thread reads its own share of the lines) and uses it as what BENCH_VARY says: the
-- request "body", the "bearer" token, or the "path". Single-use items (codes, refresh tokens) are never sent
-- twice while the pool lasts. `done` prints one JSON line that run.py parses.

local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  method = os.getenv("BENCH_METHOD") or "GET"
  path = os.getenv("BENCH_PATH") or "/"
  vary = os.getenv("BENCH_VARY") or "body"
  static = {}
  for name, value in string.gmatch(os.getenv("BENCH_HEADERS") or "", "([^:|]+):%s*([^|]*)") do
    static[name] = value
  end
  items = {}
  local pool = os.getenv("BENCH_POOL")
  if pool and pool ~= "" then
    local i = 0
    for line in io.lines(pool) do
      if i % nthreads == id then
        items[#items + 1] = line
      end
      i = i + 1
    end
    if #items == 0 then -- fewer lines than threads: a reusable pool, share it
      for line in io.lines(pool) do
        items[#items + 1] = line
      end
    end
  end
  n = 0
end

function request()
  local headers = {}
  for k, v in pairs(static) do
    headers[k] = v
  end
  local body = nil
  local target = path
  if #items > 0 then
    n = n + 1
    local item = items[((n - 1) % #items) + 1]
    if vary == "bearer" then
      headers["Authorization"] = "Bearer " .. item
    elseif vary == "path" then
      target = item
    else
      body = item
    end
  end
  return wrk.format(method, target, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
