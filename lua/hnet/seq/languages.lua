--- hnet.seq.languages — a language stream from real text: each task tells
-- apart the words of a pair of languages (class 0: the pair's first, 1: its
-- second) from their characters, with Debian's word lists in
-- /usr/share/dict (packages wamerican, wngerman, wfrench, ...; `make data`
-- installs them).
--
-- Input: a word as its UTF-8 BYTES, one step per byte, ids 0..255 (a target
-- with vocab = 256); x [n, max_len] padded with 0 beyond each word's length,
-- which the split's `lengths` carries. Bytes rather than code points: one
-- vocabulary fits every language and every pair (the network is built once
-- for the whole stream), no character is unknown in a later task, and
-- nothing assumes ASCII; a letter outside ASCII is 2 or 3 steps.
--
-- Per task (pair a, b): both lists are read line by line; a word is
-- sampled when a fixed hash of its bytes (FNV-1a, 32 bits) falls below the
-- pair's rate (the same for both lists, so a word in both lists is kept in
-- both or in neither), words in both lists are removed, words longer than
-- max_len bytes are left out, the larger side is cut to the smaller's size
-- (by hash order, so the classes are balanced), and a second hash of the
-- word puts it in the test split (test_fraction) or the training split.
-- Reading a list is a Lua loop over its lines, hashing each word (Polish
-- has 4.3 million: the da/pl task takes about 30 s on a loaded 2-core
-- machine, en/de 3 s); it runs once per task, when its data are first read.
local core = require "hnet.core"
local spec = require "hnet.spec"
local task = require "hnet.tasks.task"

local M = {}

--- Language code -> the word list's file and the Debian package holding it.
M.LISTS = {
  en = { "american-english", "wamerican" }, de = { "ngerman", "wngerman" }, fr = { "french", "wfrench" },
  es = { "spanish", "wspanish" }, it = { "italian", "witalian" }, pt = { "portuguese", "wportuguese" },
  nl = { "dutch", "wdutch" }, pl = { "polish", "wpolish" }, sv = { "swedish", "wswedish" },
  da = { "danish", "wdanish" },
}

M.OPTIONS = {
  { name = "pairs", type = "table", default = { { "en", "de" }, { "fr", "es" }, { "it", "pt" }, { "nl", "sv" }, { "da", "pl" } },
    help = "one task per pair of language codes (en, de, fr, es, it, pt, nl, pl, sv, da)" },
  { name = "words", type = "integer", default = 5000, min = 10,
    help = "about this many words per language and task (train and test together)" },
  { name = "max_len", type = "integer", default = 20, min = 2, help = "the longest word kept, in bytes (the sequences' T)" },
  { name = "test_fraction", type = "number", default = 0.2, above = 0, max = 0.9, help = "the share of words in the test split" },
  { name = "dict", type = "string", default = "/usr/share/dict", help = "the directory of the word lists" },
  { name = "name", type = "string", default = "languages", help = "the stream's name" },
}

-- FNV-1a over the bytes of s, from offset basis `basis`: an integer in [0, 2^32).
local function fnv(s, basis)
  local h = basis
  for i = 1, #s do
    h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff
  end
  return h
end
local SAMPLE_BASIS, SPLIT_BASIS = 2166136261, 84696351

local function path_of(o, code, f)
  local e = M.LISTS[code]
  local path = o.dict .. "/" .. e[1]
  local fh = io.open(path, "rb")
  if not fh then
    error(("%s: the word list of '%s' (%s) is missing; install Debian's package %s (sudo apt-get install %s, or make data)")
      :format(f, code, path, e[2], e[2]), 0)
  end
  fh:close()
  return path
end

local function count_lines(path)
  local n = 0
  for _ in io.lines(path) do n = n + 1 end
  return n
end

-- The sampled words of one list: word -> its sample hash.
local function sample(path, threshold, max_len)
  local out = {}
  for line in io.lines(path) do
    local w = line:gsub("\r$", "")
    if #w >= 1 and #w <= max_len then
      local h = fnv(w, SAMPLE_BASIS)
      if h < threshold then out[w] = h end
    end
  end
  return out
end

-- The pair's words: a list of { word, label } in hash order, balanced.
local function pair_words(o, a, b, f)
  local pa, pb = path_of(o, a, f), path_of(o, b, f)
  local na, nb = count_lines(pa), count_lines(pb)
  -- Sample a little more than asked: the overlap and long words go.
  local rate = math.min(1, 1.25 * o.words / math.min(na, nb))
  local threshold = math.floor(rate * 4294967295)
  local wa, wb = sample(pa, threshold, o.max_len), sample(pb, threshold, o.max_len)
  local la, lb = {}, {}
  for w, h in pairs(wa) do if wb[w] == nil then la[#la + 1] = { w, h } end end
  for w, h in pairs(wb) do if wa[w] == nil then lb[#lb + 1] = { w, h } end end
  local function by_hash(x, y) return x[2] < y[2] or (x[2] == y[2] and x[1] < y[1]) end
  table.sort(la, by_hash)
  table.sort(lb, by_hash)
  local k = math.min(#la, #lb, o.words)
  if k < 2 then
    error(("%s: the pair %s/%s leaves %d words per language (max_len = %d)"):format(f, a, b, k, o.max_len), 0)
  end
  local list = {}
  for i = 1, k do
    list[#list + 1] = { la[i][1], 0 }
    list[#list + 1] = { lb[i][1], 1 }
  end
  return list
end

-- The split `split` of a pair's words as tensors {x [n, max_len], y [n], lengths [n]}.
local function build(o, words, split)
  local cut = math.floor(o.test_fraction * 4294967295)
  local xs, ys, ls, n = {}, {}, {}, 0
  local T = o.max_len
  for _, e in ipairs(words) do
    local w = e[1]
    local is_test = fnv(w, SPLIT_BASIS) < cut
    if is_test == (split == "test") then
      local base = n * T
      for i = 1, T do xs[base + i] = i <= #w and w:byte(i) or 0 end
      n = n + 1
      ys[n], ls[n] = e[2], #w
    end
  end
  return { x = core.tensor_from(xs, { n, T }), y = core.tensor_from(ys, { n }), lengths = core.tensor_from(ls, { n }) }
end

--- The stream (see the header); `./hnet help hnet.stream.languages`.
function M.languages(opts)
  local f = "hnet.stream.languages"
  local o = spec.check(M.OPTIONS, opts or {}, f, 1, 3)
  if #o.pairs < 1 then error(("bad argument #1 to '%s' (field 'pairs': at least one pair expected)"):format(f), 3) end
  for i, p in ipairs(o.pairs) do
    if type(p) ~= "table" or #p ~= 2 or not M.LISTS[p[1]] or not M.LISTS[p[2]] or p[1] == p[2] then
      local codes = {}
      for c in pairs(M.LISTS) do codes[#codes + 1] = c end
      table.sort(codes)
      error(("bad argument #1 to '%s' (field 'pairs': entry %d must be two different language codes of %s)")
        :format(f, i, table.concat(codes, ", ")), 3)
    end
  end
  for _, p in ipairs(o.pairs) do path_of(o, p[1], f); path_of(o, p[2], f) end
  local stream = require "hnet.stream"
  return stream.custom {
    n = #o.pairs, name = o.name,
    make = function(i)
      local a, b = o.pairs[i][1], o.pairs[i][2]
      local words
      return task.make_task({
        name = ("%s-%s"):format(a, b), kind = "classification", n_classes = 2, class_names = { a, b },
        input_shape = { o.max_len }, seq_lengths = true, vocab = 256, source = "dict",
      }, function(split)
        words = words or pair_words(o, a, b, f)
        return build(o, words, split)
      end)
    end,
  }
end

return M
