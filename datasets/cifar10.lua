--- CIFAR-10 (Krizhevsky, 2009): 32x32 colour images, 10 classes, 50,000
-- training and 10,000 test images. Nothing downloads it: unpack the
-- "CIFAR-10 binary version" (cifar-10-binary.tar.gz) into data/cifar10/, so
-- that data/cifar10/cifar-10-batches-bin/ holds data_batch_1.bin ..
-- data_batch_5.bin and test_batch.bin (10,000 records of 1 + 3072 bytes each).
-- Images come as [n, 3, 32, 32] scaled to 0..1.
local HINT = "unpack the CIFAR-10 binary version there "
  .. "(cifar-10-batches-bin/data_batch_1.bin .. data_batch_5.bin, test_batch.bin)"

return function(ctx, opts)
  ctx.require_dir(HINT)
  local batches = {}
  for i = 1, 5 do
    batches[i] = ctx.find("cifar-10-batches-bin/data_batch_" .. i .. ".bin", HINT)
  end
  local test = ctx.find("cifar-10-batches-bin/test_batch.bin", HINT)
  local hnet = ctx.hnet
  local xtr, ytr = hnet.cifar10_read(batches, { scale = 1 / 255 })
  local xte, yte = hnet.cifar10_read(test, { scale = 1 / 255 })
  return {
    n_classes = 10,
    shape = { 3, 32, 32 },
    train = { x = xtr, y = ytr },
    test = { x = xte, y = yte },
    class_names = { "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                    "ship", "truck" },
    source = ctx.dir,
  }
end
