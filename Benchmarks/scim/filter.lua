-- Scenario 1: GET /Users?filter=userName eq "<a random seeded userName>", URL-encoded.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/common.lua")

local paths = {}

function init(args)
   bench.thread_init()
   for _, name in ipairs(bench.lines("usernames.txt")) do
      paths[#paths + 1] = wrk.path .. "/Users?filter=" .. bench.urlencode('userName eq "' .. name .. '"')
   end
end

function request()
   return wrk.format("GET", paths[math.random(#paths)])
end
