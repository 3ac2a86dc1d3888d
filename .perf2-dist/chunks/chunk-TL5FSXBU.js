import {
  AppError
} from "./chunk-3L2Z3EX5.js";

// src/shared/atomic.ts
import { randomBytes } from "node:crypto";
import { promises as fs, constants as fsc } from "node:fs";
import path from "node:path";
var PRIVATE_FILE_MODE = 384;
var PRIVATE_DIR_MODE = 448;
var SHARED_FILE_MODE = 420;
async function writeFileAtomic(file, data, options = {}) {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  if (bytes.byteLength === 0) throw new RangeError(`refusing to write an empty file: ${file}`);
  const dir = path.dirname(file);
  if (options.private) {
    await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    await fs.chmod(dir, PRIVATE_DIR_MODE);
  } else {
    await fs.mkdir(dir, { recursive: true });
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await fs.open(tmp, "w", options.private ? PRIVATE_FILE_MODE : SHARED_FILE_MODE);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  await syncDir(dir);
}
async function writeJsonAtomic(file, value, options = {}) {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}
`, options);
}
async function syncDir(dir) {
  try {
    const handle = await fs.open(dir, fsc.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
  }
}
async function readRegularFile(file, { maxBytes }) {
  return withRegularFile(file, maxBytes, (handle) => handle.readFile());
}
async function readRegularFileInto(file, target) {
  return withRegularFile(file, target.length, async (handle, size) => {
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(target, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return target.subarray(0, filled);
  });
}
async function withRegularFile(file, maxBytes, read) {
  let handle;
  try {
    handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    const code = err.code;
    if (code === "ENOENT") return null;
    if (code === "ELOOP") throw new AppError("ERR_FILE_NOT_REGULAR", `${file} is a symlink; only regular files are read`, { file });
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new AppError("ERR_FILE_NOT_REGULAR", `${file} is not a regular file`, { file });
    if (stat.size > maxBytes) {
      throw new AppError("ERR_FILE_TOO_LARGE", `${file} is ${stat.size} bytes; the limit is ${maxBytes}`, { file });
    }
    return await read(handle, stat.size);
  } finally {
    await handle.close();
  }
}
async function readJsonFile(file, limits) {
  const bytes = await readRegularFile(file, limits);
  if (bytes === null) return null;
  let value;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new AppError("ERR_JSON_FORMAT", `${file} is not valid JSON (${err.message})`, { file, cause: err });
  }
  if (value === null) throw new AppError("ERR_JSON_FORMAT", `${file} holds JSON null, not a document`, { file });
  return value;
}

// src/shared/log.ts
import pino from "pino";
var root;
function rootLogger(level = process.env.LOG_LEVEL ?? "info", fd = 1) {
  if (root) return root;
  const stream = fd === 1 ? process.stdout : process.stderr;
  const pretty = stream.isTTY && process.env.LOG_FORMAT !== "json";
  root = pino(
    { level, base: void 0, timestamp: pino.stdTimeFunctions.isoTime },
    pretty ? pino.transport({ target: "pino-pretty", options: { destination: fd, colorize: true, translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname" } }) : pino.destination({ fd, sync: true })
  );
  return root;
}
function moduleLogger(module, parent) {
  return (parent ?? rootLogger()).child({ module });
}
var silentLogger = pino({ level: "silent" });

export {
  PRIVATE_FILE_MODE,
  PRIVATE_DIR_MODE,
  writeFileAtomic,
  writeJsonAtomic,
  readRegularFile,
  readRegularFileInto,
  readJsonFile,
  rootLogger,
  moduleLogger,
  silentLogger
};
//# sourceMappingURL=chunk-TL5FSXBU.js.map
