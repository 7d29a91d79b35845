-- split_fashion.lua — Split Fashion-MNIST: 5 tasks of 2 classes (0/1, 2/3,
-- ...), the same network family and defaults as split_mnist.lua (target MLP
-- 784-400-400, chunked hypernetwork 10-10 with embeddings 96, chunk 42,000,
-- beta 0.01, look-ahead, Xavier init), CL1/CL2/CL3, hypernetwork and every baseline.
-- Every option of split_mnist.lua applies.
--
--   ./hnet experiments/split_fashion.lua [--quick] [--learners a,b]
local args = { "--dataset", "fashion_mnist", "--out", "runs/split_fashion" }
for i = 1, #arg do args[#args + 1] = arg[i] end
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local chunk = assert(loadfile(dir .. "/split_mnist.lua"))
arg = setmetatable(args, { __index = arg }) -- keep arg[0] and the negative indices
return chunk()
