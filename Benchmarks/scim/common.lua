-- Shared by the scenario scripts of Benchmarks/scim (wrk 4 runs one Lua state per thread, plus one
-- for setup() and done()). Configuration comes from the environment that run.sh sets:
--   BENCH_DATA_DIR  folder with usernames.txt and pairs.txt (written by seed.py)
--   BENCH_USERS     number of seeded users
--   BENCH_THREADS   wrk's thread count (patch.lua splits the PATCH targets between threads)
--   BENCH_RUN_ID    a token that makes the userNames of POST /Users unique to this run
--   BENCH_RESULT    where done() writes its JSON summary
-- Every response's status is counted per thread; done() adds them up, so run.sh can refuse a run
-- whose responses were not 2xx.

bench = {
   data_dir = os.getenv("BENCH_DATA_DIR") or ".",
   users = tonumber(os.getenv("BENCH_USERS") or "0"),
   run_id = os.getenv("BENCH_RUN_ID") or "run",
   result = os.getenv("BENCH_RESULT"),
}

-- setup() and done() run in the main Lua state; the threads' states only see what setup() sets.
local threads = {}
local next_id = 0

function setup(thread)
   thread:set("thread_id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

-- Per thread: responses counted by status code (string keys, so that thread:get copies them as is).
statuses = {}

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
end

function bench.thread_init()
   -- thread_id is set by setup() before init() runs; a fixed seed per thread gives both servers the
   -- same sequence of requests.
   math.randomseed(7643 + 1000 * (thread_id or 0))
   for _ = 1, 10 do math.random() end
end

-- wrk.format() sends the headers it is given instead of wrk.headers (the -H ones): merge them.
function bench.headers(extra)
   local merged = {}
   for name, value in pairs(wrk.headers) do merged[name] = value end
   for name, value in pairs(extra) do merged[name] = value end
   return merged
end

function bench.urlencode(text)
   return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function bench.lines(name)
   local list = {}
   local path = bench.data_dir .. "/" .. name
   local file = assert(io.open(path, "r"), "cannot open " .. path)
   for line in file:lines() do
      if line ~= "" then list[#list + 1] = line end
   end
   file:close()
   return list
end

local function json_string(text)
   return '"' .. tostring(text):gsub('[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
   local counts, parts = {}, {}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses") or {}) do
         counts[status] = (counts[status] or 0) + count
      end
   end
   for status, count in pairs(counts) do
      parts[#parts + 1] = json_string(status) .. ":" .. count
   end
   local errors = summary.errors
   local out = string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99.9":%d},' ..
      '"statuses":{%s}}\n',
      summary.requests, summary.duration, summary.bytes,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      latency.min, latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
      table.concat(parts, ","))
   if bench.result then
      local file = assert(io.open(bench.result, "w"))
      file:write(out)
      file:close()
   else
      io.write(out)
   end
end
