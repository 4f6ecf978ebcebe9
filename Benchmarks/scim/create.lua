-- Scenario 3: POST /Users, each with a userName unique to this run, thread and request.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/common.lua")

local counter = 0
local given = { "Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace" }
local family = { "Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper" }
local headers

function init(args)
   bench.thread_init()
   headers = bench.headers({ ["Content-Type"] = "application/scim+json" })
end

function request()
   counter = counter + 1
   local g, f = given[math.random(#given)], family[math.random(#family)]
   local name = string.format("load.%s.t%d.%d@bench.example.org", bench.run_id, thread_id, counter)
   local body = string.format(
      '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s","externalId":"load-%s-%d-%d",' ..
      '"name":{"givenName":"%s","familyName":"%s","formatted":"%s %s"},"displayName":"%s %s","title":"Engineer",' ..
      '"emails":[{"value":"%s","type":"work","primary":true}],"active":true}',
      name, bench.run_id, thread_id, counter, g, f, g, f, g, f, name)
   return wrk.format("POST", wrk.path .. "/Users", headers, body)
end
