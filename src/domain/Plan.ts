/**
 * The planner: from what was observed about one app to the one thing to do. Pure: no services.
 *
 * Planning happens in two steps because the second needs facts that only the first says are
 * worth gathering: {@link classify} looks at versions alone; the program then probes health
 * (a deployed app) and reads the release notes of the versions being skipped (an upgrade
 * candidate); {@link plan} decides.
 */
import { Data, Option, Order } from "effect"
import type { PlanHoldReason } from "./Hold.js"
import { allows, type UpgradePolicy } from "./Policy.js"
import { type MigrationWarning, migrationWarnings } from "./ReleaseNotes.js"
import * as Version from "./Version.js"

export interface Facts {
  readonly deployed: boolean
  /** The version the app runs or is pinned to: the env file's pin, else the stack's version label. */
  readonly current: Option.Option<string>
  readonly tags: ReadonlyArray<string>
  readonly policy: UpgradePolicy
  /** Releases too fresh to upgrade to (`minReleaseAge`): an older aged one is the candidate instead. */
  readonly soaking?: ReadonlyArray<string>
}

export type Stage = Data.TaggedEnum<{
  /** Nothing runs: deploy the pinned version, or the latest when nothing is pinned. */
  FreshDeploy: { readonly version: Version.Version }
  /** Running the latest (or something newer than any release): check it is healthy. */
  OnLatest: { readonly version: Version.Version }
  /** A newer release exists; the gates decide. `skipped` runs after `from` up to `to`. */
  Candidate: {
    readonly from: Version.Version
    readonly to: Version.Version
    readonly skipped: ReadonlyArray<Version.Version>
  }
  /** Deployed, but which version runs cannot be told: hold, a person must look. */
  UnknownCurrent: { readonly latest: Version.Version; readonly current: Option.Option<string> }
  /** The recipe publishes no release at all. */
  NoReleases: Record<never, never>
}>
export const Stage = Data.taggedEnum<Stage>()

export const classify = (facts: Facts): Stage => {
  const versions = Version.sortTags(facts.tags)
  const latest = Version.latest(versions)
  if (Option.isNone(latest)) return Stage.NoReleases()
  const current = Option.flatMap(facts.current, Version.parse)
  if (!facts.deployed) {
    return Stage.FreshDeploy({ version: Option.getOrElse(current, () => latest.value) })
  }
  if (Option.isNone(current)) return Stage.UnknownCurrent({ latest: latest.value, current: facts.current })
  // The newest release that has soaked: a newer one still soaking does not hide it.
  const soaking = new Set(facts.soaking ?? [])
  const target = Version.latest(versions.filter((v) => !soaking.has(v.tag)))
  // On or past the latest release (a pin newer than any tag counts as on latest, never a downgrade).
  if (Option.isNone(target) || Order.lessThanOrEqualTo(Version.order)(target.value, current.value)) {
    return Stage.OnLatest({ version: current.value })
  }
  return Stage.Candidate({
    from: current.value,
    to: target.value,
    skipped: Version.between(versions, current.value, target.value)
  })
}

export type { HoldReason } from "./Hold.js"

export type Plan = Data.TaggedEnum<{
  FreshDeploy: { readonly version: string }
  Noop: { readonly version: string }
  Redeploy: { readonly version: string }
  Hold: {
    readonly reason: PlanHoldReason
    readonly from: string
    readonly to: string
    /** The notes of every skipped version that has any (or that matched, for a migration hold). */
    readonly notes: ReadonlyArray<{ readonly version: string; readonly notes: string }>
    readonly warnings: ReadonlyArray<MigrationWarning>
    readonly policy: UpgradePolicy
  }
  /** Not deployed, and the config does not ask to keep it deployed: a person took it down; leave it. */
  Undeployed: { readonly version: string }
  /** `fromHealthy`: the running version answered before the upgrade, so it is a known last-good. */
  Upgrade: { readonly from: string; readonly to: string; readonly fromHealthy: boolean }
  Fail: { readonly reason: string }
}>
export const Plan = Data.taggedEnum<Plan>()

export interface Observed {
  /** Did the deployed app answer healthy before anything changed? Ignored when not deployed. */
  readonly healthy: boolean
  /** Release notes by version tag, for the versions being skipped (absent = no notes). */
  readonly notes: ReadonlyMap<string, string>
  /** A target that was tried and rolled back before: not retried until a newer release appears. */
  readonly failedRelease?: string | undefined
}

export const plan = (facts: Facts, stage: Stage, observed: Observed): Plan =>
  Stage.$match(stage, {
    NoReleases: () => Plan.Fail({ reason: "the recipe has no version tags" }),
    FreshDeploy: ({ version }) => Plan.FreshDeploy({ version: version.tag }),
    OnLatest: ({ version }) =>
      observed.healthy ? Plan.Noop({ version: version.tag }) : Plan.Redeploy({ version: version.tag }),
    UnknownCurrent: ({ current, latest }) =>
      Plan.Hold({
        reason: "unknown-version",
        from: Option.getOrElse(current, () => "unknown"),
        to: latest.tag,
        notes: [],
        warnings: [],
        policy: facts.policy
      }),
    Candidate: (candidate) =>
      Option.getOrElse(
        gate(facts.policy, candidate, observed.notes, observed.failedRelease),
        () => Plan.Upgrade({ from: candidate.from.tag, to: candidate.to.tag, fromHealthy: observed.healthy })
      )
  })

/** What a person did, seen before any version is looked at. */
export interface Beside {
  readonly deployed: boolean
  /** The chaos-version label of a chaos deploy that runs. */
  readonly chaosVersion: Option.Option<string>
  /** The config's `keepDeployed`. */
  readonly keepDeployed: boolean
  readonly pinned: Option.Option<string>
  readonly policy: UpgradePolicy
}

/**
 * The work of a person that a run stays out of: a chaos deploy is held (alerted once per chaos
 * version), an app taken down is left undeployed unless the config says to keep it deployed.
 * None: go on and plan from the versions.
 */
export const beside = (seen: Beside): Option.Option<Plan> => {
  if (seen.deployed && Option.isSome(seen.chaosVersion)) {
    const version = seen.chaosVersion.value
    return Option.some(
      Plan.Hold({ reason: "chaos", from: version, to: version, notes: [], warnings: [], policy: seen.policy })
    )
  }
  if (!seen.deployed && !seen.keepDeployed) {
    return Option.some(Plan.Undeployed({ version: Option.getOrElse(seen.pinned, () => "unknown") }))
  }
  return Option.none()
}

type Hold = Extract<Plan, { _tag: "Hold" }>
type Candidate = Extract<Stage, { _tag: "Candidate" }>

/**
 * The safety gate over an upgrade candidate: a hold, or none when the upgrade may go ahead.
 * Order matters: a major bump is the strongest reason, then a warning a person must read in the
 * notes of any skipped version, then the operator's own policy.
 */
export const gate = (
  policy: UpgradePolicy,
  { from, skipped, to }: Candidate,
  notesByVersion: ReadonlyMap<string, string>,
  failedRelease?: string
): Option.Option<Hold> => {
  const notesOf = (v: string) => notesByVersion.get(v)
  const notes = skipped.flatMap((v) => {
    const text = notesOf(v.tag)
    return text === undefined ? [] : [{ version: v.tag, notes: text }]
  })
  const warnings = migrationWarnings(skipped, notesOf)
  const bump = Version.bump(from, to)
  const hold = (reason: PlanHoldReason) =>
    Option.some(Plan.Hold({ reason, from: from.tag, to: to.tag, notes, warnings, policy }) as Hold)
  if (bump === "major") return hold("major")
  if (warnings.length > 0) return hold("manual-migration")
  if (!allows(policy, bump)) return hold("policy")
  // Retrying a release that already failed would cost the same downtime and rollback every night.
  if (failedRelease === to.tag) return hold("failed-release")
  return Option.none()
}

/** Is a health probe of the running app needed before {@link plan} can decide? */
export const needsHealth = (
  facts: Facts,
  stage: Stage,
  notesByVersion: ReadonlyMap<string, string>,
  failedRelease?: string
): boolean =>
  facts.deployed &&
  (stage._tag === "OnLatest" ||
    (stage._tag === "Candidate" && Option.isNone(gate(facts.policy, stage, notesByVersion, failedRelease))))
