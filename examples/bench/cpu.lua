-- CPU-bound work for `make bench`: recursion, tables, strings, patterns.
-- Prints nothing; returns one checksum so both runners can be compared.
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end

local function sieve(n)
  local composite, count = {}, 0
  for i = 2, n do
    if not composite[i] then
      count = count + 1
      for j = i * i, n, i do composite[j] = true end
    end
  end
  return count
end

local function words(rounds)
  local text = ("the quick brown fox jumps over the lazy dog "):rep(50)
  local total = 0
  for _ = 1, rounds do
    local counts = {}
    for w in text:gmatch("%a+") do counts[w] = (counts[w] or 0) + 1 end
    total = total + counts.the
  end
  return total
end

local checksum = fib(30) + sieve(2000000) + words(300)
if arg ~= nil then print(checksum) end  -- stock interpreter
return checksum
