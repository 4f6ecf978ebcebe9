-- Scenario 2: GET /Users?startIndex=N&count=100, N drawn at random so that the page is full.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/common.lua")

local last_start

function init(args)
   bench.thread_init()
   last_start = math.max(1, bench.users - 99)
end

function request()
   return wrk.format("GET", wrk.path .. "/Users?startIndex=" .. math.random(last_start) .. "&count=100")
end
