-- Smoke run for the Lua interpreter built by tests/cc/test_cc.sh with
-- `make CC="jitfarm cc"`: exercises the VM, the parser, the garbage
-- collector and every standard library the build compiled, and checks
-- results (assert) rather than printing them.
local t0 = os.clock()

-- integers, floats, bit operations, conversions
assert(7 // 2 == 3 and 7 % -3 == -2 and 2^10 == 1024.0)
assert(math.type(1) == "integer" and math.type(1.0) == "float")
assert((0xF0 | 0x0F) == 0xFF and (0xFF ~ 0x0F) == 0xF0 and (1 << 62) > 0)
assert(math.tointeger(3.0) == 3 and tostring(1e100) == "1e+100")
assert(math.maxinteger + 1 == math.mininteger)
assert(string.format("%5.2f|%d|%x|%q", 3.14159, 42, 255, "a\nb") == " 3.14|42|ff|\"a\\\nb\"")

-- strings and patterns
local s = "The quick brown fox jumps over the lazy dog"
assert(#s == 43 and s:upper():sub(1, 3) == "THE")
local words = {}
for w in s:gmatch("%a+") do words[#words + 1] = w end
assert(#words == 9 and words[4] == "fox")
assert(s:gsub("o", "0") == "The quick br0wn f0x jumps 0ver the lazy d0g")
assert(("x=1, y=22"):match("y=(%d+)") == "22")
assert(string.rep("ab", 3, "-") == "ab-ab-ab")
assert(string.pack(">I4", 0x01020304) == "\1\2\3\4")
assert(string.unpack("<i2", "\255\255") == -1)
assert(utf8.len("héllo") == 5 and utf8.char(0x4e2d) == "中")

-- tables, sorting, metatables
local a = {}
for i = 1, 1000 do a[i] = (i * 7919) % 1009 end
table.sort(a)
for i = 2, #a do assert(a[i - 1] <= a[i]) end
assert(table.concat({1, 2, 3}, ",") == "1,2,3")
assert(select("#", table.unpack({1, nil, 3}, 1, 3)) == 3)
local V = {}
V.__index = V
V.__add = function(p, q) return setmetatable({x = p.x + q.x}, V) end
V.__eq = function(p, q) return p.x == q.x end
V.__tostring = function(p) return "V(" .. p.x .. ")" end
local v = setmetatable({x = 1}, V) + setmetatable({x = 2}, V)
assert(v == setmetatable({x = 3}, V) and tostring(v) == "V(3)")

-- closures, varargs, tail calls, goto
local function counter()
  local n = 0
  return function() n = n + 1; return n end
end
local c1, c2 = counter(), counter()
c1(); c1()
assert(c1() == 3 and c2() == 1)
local function sum(...)
  local r = 0
  for _, x in ipairs({...}) do r = r + x end
  return r
end
assert(sum(1, 2, 3, 4) == 10)
local function loop(n, acc) if n == 0 then return acc end return loop(n - 1, acc + n) end
assert(loop(100000, 0) == 5000050000)
do
  local i = 1
  ::top::
  i = i + 1
  if i < 10 then goto top end
  assert(i == 10)
end

-- coroutines
local gen = coroutine.wrap(function()
  for i = 1, 3 do coroutine.yield(i * i) end
  return "done"
end)
assert(gen() == 1 and gen() == 4 and gen() == 9 and gen() == "done")

-- errors and protected calls
local ok, err = pcall(function() error({code = 7}) end)
assert(not ok and err.code == 7)
ok, err = pcall(function() local x = nil; return x.y end)
assert(not ok and err:find("attempt to index"))
assert(select(2, xpcall(function() error("boom") end, function(m) return "handled: " .. m end)):find("handled"))

-- load, string.dump and the compiler
local f = load("local a, b = ... return a * b")
assert(f(6, 7) == 42)
local g = load(string.dump(function(x) return x + 1 end), "dumped", "b")
assert(g(41) == 42)

-- the garbage collector, weak tables
local weak = setmetatable({}, {__mode = "k"})
do
  local key = {}
  weak[key] = true
end
collectgarbage("collect")
assert(next(weak) == nil)
local before = collectgarbage("count")
local big = {}
for i = 1, 100000 do big[i] = {i} end
big = nil
collectgarbage("collect")
assert(collectgarbage("count") < before + 1024)

-- io and os
local name = os.tmpname()
local fh = assert(io.open(name, "w"))
fh:write("line1\n", 42, "\n")
fh:close()
local lines = {}
for l in io.lines(name) do lines[#lines + 1] = l end
assert(lines[1] == "line1" and lines[2] == "42")
os.remove(name)
assert(type(os.time()) == "number" and os.date("!%Y", 0) == "1970")

-- a little real work: primes below 100000 by sieve
local N, sieve, count = 100000, {}, 0
for i = 2, N do
  if not sieve[i] then
    count = count + 1
    for j = i * i, N, i do sieve[j] = true end
  end
end
assert(count == 9592)

print(string.format("smoke ok (%s, %.2f s)", _VERSION, os.clock() - t0))
