/**
 * `snapshot` settings: decoding and inheritance, the volumes they select, what `plan` says, and
 * the exclude matcher checked against rsync itself on one tree (one rsync run).
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type AppName, configuredApp, decodeConfig } from "../../src/domain/Config.js"
import { compiled, describeScope, excludesOf, selectVolumes, SnapshotConfig } from "../../src/domain/SnapshotConfig.js"
import { excludesFile } from "../../src/domain/SnapshotExclude.js"

const nextcloud = { recipe: "nextcloud", domain: "cloud.example.org" }
const STACK = "cloud_example_org"

const app = (input: Record<string, unknown>) => {
  const config = Either.getOrThrowWith(decodeConfig(input), (e) => new Error(e.message))
  return configuredApp(config, "nc" as AppName)
}

describe("snapshot settings", () => {
  it("an exclude given as a plain string is refused with an example, not the Schema's type", () => {
    const decoded = decodeConfig({ apps: { nc: { ...nextcloud, snapshot: { exclude: "cache/" } } } })
    expect(Either.isLeft(decoded) && decoded.left.message).toContain(
      "apps.nc.snapshot.exclude: expected patterns per volume, such as {\"app_data\": [\"cache/\"]}"
    )
  })

  it("are inherited from defaults and recipes: exclude merged per volume, a list replaced", () => {
    const nc = app({
      defaults: { snapshot: { keep: 3, exclude: { db: ["*.log"] } } },
      recipes: { nextcloud: { snapshot: { exclude: { app_data: ["appdata_*/preview"] }, volumes: ["db"] } } },
      apps: { nc: { ...nextcloud, snapshot: { volumes: ["app_data", "db"] } } }
    })
    expect(nc.snapshot).toEqual(SnapshotConfig.make({
      keep: 3,
      exclude: { db: ["*.log"], app_data: ["appdata_*/preview"] },
      volumes: ["app_data", "db"]
    }))
    expect(excludesOf(nc, `${STACK}_app_data`)).toEqual(["appdata_*/preview"])
    expect(app({ apps: { nc: nextcloud } }).snapshot).toBeUndefined()
  })

  it("refuse what rsync would read otherwise, named by path", () => {
    const refused = (snapshot: unknown) =>
      Either.match(decodeConfig({ recipes: { nextcloud: { snapshot } }, apps: { nc: nextcloud } }), {
        onLeft: (e) => e.message,
        onRight: () => "accepted"
      })
    expect(refused({ exclude: { app_data: ["a[bc]"] } })).toContain(
      "recipes.nextcloud.snapshot.exclude.app_data[0]: an exclude pattern uses `*`, `**`, `?`"
    )
    expect(refused({ exclude: { app_data: ["/"] } })).toContain("must name something below the volume's root")
    expect(refused({ volumes: [] })).toContain("recipes.nextcloud.snapshot.volumes")
    expect(refused({ keep: 101 })).toContain("recipes.nextcloud.snapshot.keep")
    expect(refused({ keep: 2, volumes: ["app_data"] })).toBe("accepted")
  })

  it("select the volumes named (short or Docker name), and refuse a name the stack lacks", () => {
    const volumes = ["app_data", "db", "redis"].map((n) => ({ name: `${STACK}_${n}`, mountpoint: `/v/${n}` }))
    const nc = app({ apps: { nc: { ...nextcloud, snapshot: { volumes: ["app_data", `${STACK}_db`] } } } })
    expect(Either.map(selectVolumes(nc, volumes), (vs) => vs.map((v) => v.name))).toEqual(
      Either.right([`${STACK}_app_data`, `${STACK}_db`])
    )
    const typo = app({ apps: { nc: { ...nextcloud, snapshot: { exclude: { appdata: ["x"] } } } } })
    expect(selectVolumes(typo, volumes)).toEqual(Either.left(
      `the config's snapshot settings name volume(s) appdata that stack ${STACK} does not have ` +
        "(it has: app_data, db, redis); fix snapshot.volumes or snapshot.exclude"
    ))
  })

  it("are named by plan when they narrow a stateful app's snapshot", () => {
    const settings = { volumes: ["app_data"], exclude: { app_data: ["appdata_*/preview"] } }
    expect(describeScope(app({ apps: { nc: { ...nextcloud, snapshot: settings } } }))).toEqual(Option.some(
      "snapshot: only volume(s) app_data; excluded app_data: appdata_*/preview (what is left out is not " +
        "restored on a rollback: it stays as the failed release left it)"
    ))
    expect(describeScope(app({ apps: { nc: { ...nextcloud, snapshot: { keep: 2 } } } }))).toEqual(Option.none())
    expect(describeScope(app({ apps: { nc: { ...nextcloud, stateful: false, snapshot: settings } } })))
      .toEqual(Option.none())
  })

  it("leave out exactly the files rsync --exclude leaves out", () => {
    const patterns = ["appdata_*/preview", "cache/", "/top.log", "*.tmp", "a/**/deep", "?.x"]
    const tree = [
      "data/appdata_oc1/preview/1/p.jpg",
      "data/appdata_oc1/other/p.jpg",
      "appdata_x/preview",
      "data/xappdata_1/preview/q",
      "cache/c1",
      "sub/cache/c2",
      "sub2/cache",
      "top.log",
      "sub/top.log",
      "sub/t.tmp",
      "a/b/c/deep/f",
      "a/deep/g",
      "b/deep/h",
      "k.x",
      "kk.x"
    ]
    const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "warm-exclude-"))
    try {
      for (const file of tree) {
        Fs.mkdirSync(Path.dirname(Path.join(root, "src", file)), { recursive: true })
        Fs.writeFileSync(Path.join(root, "src", file), "x")
      }
      execFileSync("rsync", ["-a", ...patterns.map((p) => `--exclude=${p}`), `${root}/src/`, `${root}/dst/`])
      const copied = tree.filter((f) => Fs.existsSync(Path.join(root, "dst", f)))
      const matcher = compiled(patterns)
      expect(tree.filter((f) => !excludesFile(matcher, f))).toEqual(copied)
      // Not vacuous: some of each kind are left out, some copied.
      expect(copied).toContain("data/xappdata_1/preview/q")
      expect(copied).toContain("sub2/cache")
      expect(copied).not.toContain("data/appdata_oc1/preview/1/p.jpg")
    } finally {
      Fs.rmSync(root, { recursive: true, force: true })
    }
  })
})
