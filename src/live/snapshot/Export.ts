/**
 * `snapshot export`: the last snapshot (its meta.json, manifests and trees, or archives) as one
 * tar archive, for people who want it off the server. To stdout, or to a file written beside its
 * place and renamed there once complete and flushed: a failure leaves no half-written file.
 */
import { FileSystem } from "@effect/platform"
import { Effect, Option } from "effect"
import * as NodePath from "node:path"
import type { AppSpec } from "../../domain/Config.js"
import { SnapshotError } from "../../services/Snapshots.js"
import { Failure, io, suffix } from "./Failure.js"
import { locate, syncDir } from "./StateDir.js"
import { run } from "./Tool.js"

// Numeric owners, ACLs, xattrs and holes, as the snapshot holds them; tar keeps hard links itself.
const TAR_CREATE = ["--create", "--numeric-owner", "--xattrs", "--xattrs-include=*", "--acls", "--sparse"]

/** Run tar writing to `file` (`-`: this process's stdout, inherited). */
const tar = (dir: string, file: string) =>
  run(
    "tar",
    [...TAR_CREATE, "--force-local", `--directory=${dir}`, `--file=${file}`, "."],
    "export the snapshot",
    [],
    file === "-" ? "inherit" : "pipe"
  )

/** Write the file by tar beside `output`, flush it and rename it into place; removed on any failure. */
const toFile = (dir: string, output: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const target = NodePath.resolve(output)
    const partial = NodePath.join(NodePath.dirname(target), `.${NodePath.basename(target)}.partial-${suffix()}`)
    const write = Effect.gen(function*() {
      yield* tar(dir, partial)
      yield* Effect.scoped(
        Effect.flatMap(fs.open(partial, { flag: "r+" }), (file) => file.sync).pipe(io(`fsync ${partial}`))
      )
      yield* fs.rename(partial, target).pipe(io(`rename ${partial} to ${target}`))
    })
    yield* write.pipe(Effect.onError(() => fs.remove(partial, { force: true }).pipe(Effect.ignore)))
    yield* syncDir(NodePath.dirname(target))
    return target
  })

/**
 * Export the last snapshot of `app` under `stateDir` as a tar archive to `output` (none: stdout).
 * Answers where it went. Only reads the snapshot; the caller holds the app's lock, so that no take
 * replaces the snapshot while tar reads it.
 */
export const exportTar = (stateDir: string, app: AppSpec, output: Option.Option<string>) =>
  Effect.gen(function*() {
    const appDir = NodePath.join(NodePath.resolve(stateDir), app.name)
    const { broken, current } = yield* locate(appDir)
    if (Option.isSome(broken)) return yield* Effect.fail(broken.value)
    if (Option.isNone(current)) {
      return yield* new Failure({ message: `there is no snapshot in ${NodePath.join(appDir, "snapshot")}` })
    }
    const dir = NodePath.join(appDir, current.value.name)
    if (Option.isNone(output)) {
      yield* tar(dir, "-")
      return "stdout"
    }
    return yield* toFile(dir, output.value)
  }).pipe(
    Effect.mapError((e) =>
      new SnapshotError({
        app: app.name,
        operation: "export",
        message: `snapshot export for ${app.name}: ${e.message}`
      })
    )
  )
