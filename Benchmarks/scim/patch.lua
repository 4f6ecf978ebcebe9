-- Scenario 4: PATCH /Groups/<id>, adding a user to a group's members, alternating with removing an
-- earlier added one through a value filter:
--   {"op":"add","path":"members","value":[{"value":"<userId>"}]}
--   {"op":"remove","path":"members[value eq \"<userId>\"]"}
-- Targets come from pairs.txt: (group, user) pairs where the user is not a member yet. Each thread
-- owns a slice of them. A remove targets the pair added LAG pairs earlier, so that with several
-- connections in flight it never overtakes its add; after the first LAG adds, adds and removes
-- strictly alternate, and group sizes stay at their seeded size plus at most LAG per thread.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/common.lua")

local LAG
local mine = {}
local counter = 0
local headers

function init(args)
   bench.thread_init()
   headers = bench.headers({ ["Content-Type"] = "application/scim+json" })
   local all = bench.lines("pairs.txt")
   local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
   for index = 1 + thread_id, #all, threads do
      local group, user = all[index]:match("^(%S+) (%S+)$")
      mine[#mine + 1] = { group = group, user = user }
   end
   -- 256 pairs is far more than a thread's connections can have in flight; fewer on tiny data sets.
   LAG = math.min(256, math.floor(#mine / 3))
   assert(LAG >= 32, "pairs.txt holds too few pairs for " .. threads .. " threads: seed more users")
end

local function pair(index)
   -- Wraps around: by the time a pair comes round again it was removed long before.
   return mine[(index % #mine) + 1]
end

function request()
   local n = counter
   counter = counter + 1
   local op, target
   if n < LAG then
      op, target = "add", pair(n)
   elseif (n - LAG) % 2 == 0 then
      op, target = "add", pair(LAG + (n - LAG) / 2)
   else
      op, target = "remove", pair((n - LAG - 1) / 2)
   end
   local operation
   if op == "add" then
      operation = '{"op":"add","path":"members","value":[{"value":"' .. target.user .. '"}]}'
   else
      operation = '{"op":"remove","path":"members[value eq \\"' .. target.user .. '\\"]"}'
   end
   local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' .. operation .. ']}'
   return wrk.format("PATCH", wrk.path .. "/Groups/" .. target.group, headers, body)
end
