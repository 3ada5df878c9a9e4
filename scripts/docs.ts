/**
 * `npm run docs`: generates from the Schemas
 * - docs/config-reference.md: every key of the config file (src/domain/Config.ts), with its type,
 *   default and the `description` annotation of its field;
 * - docs/alert.schema.json: the JSON Schema of an alert file (src/domain/Alert.ts `AlertFile`).
 * test/docs.test.ts fails when the committed files differ from what this produces.
 */
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Duration, Effect, JSONSchema, Option, Schema, SchemaAST as AST } from "effect"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { AlertFile } from "../src/domain/Alert.js"
import {
  AppConfig,
  AppDefaults,
  Config,
  decodeConfig,
  HealthConfig,
  HealthDefaults,
  ServerConfig
} from "../src/domain/Config.js"
import { NotifyChannel } from "../src/domain/Notify.js"
import { SnapshotConfig } from "../src/domain/SnapshotConfig.js"

type Fields = Schema.Struct.Fields

interface Section {
  readonly name: string
  /** Where its keys sit in the file. */
  readonly at: string
  readonly fields: Fields
  /** The smallest valid input: every key it leaves out shows its default when decoded. */
  readonly minimal: Record<string, unknown>
}

const sections: ReadonlyArray<Section> = [
  { name: "Config", at: "the top level", fields: Config.fields, minimal: { apps: {} } },
  {
    name: "AppConfig",
    at: "`apps.<name>`",
    fields: AppConfig.fields,
    minimal: { recipe: "keycloak", domain: "id.example.org" }
  },
  { name: "HealthConfig", at: "`apps.<name>.health`", fields: HealthConfig.fields, minimal: {} },
  {
    name: "SnapshotConfig",
    at: "`apps.<name>.snapshot`, and `snapshot` of an [AppDefaults](#appdefaults) (merged key by key, `exclude` " +
      "volume by volume)",
    fields: SnapshotConfig.fields,
    minimal: {}
  },
  {
    name: "AppDefaults",
    at: "`defaults` and each entry of `recipes`: the keys of [AppConfig](#appconfig) but `recipe` and `domain`, " +
      "none required; only what is written is inherited",
    fields: (AppDefaults as unknown as { readonly fields: Fields }).fields,
    minimal: {}
  },
  {
    name: "HealthDefaults",
    at: "`health` of an [AppDefaults](#appdefaults): the keys of [HealthConfig](#healthconfig), none required",
    fields: (HealthDefaults as unknown as { readonly fields: Fields }).fields,
    minimal: {}
  },
  { name: "ServerConfig", at: "`servers.<name>`", fields: ServerConfig.fields, minimal: {} },
  {
    name: "NotifyChannel",
    at: "each entry of `notify`",
    fields: NotifyChannel.fields,
    minimal: { url: "ntfy://ntfy.sh/alerts" }
  }
]

/** The nested classes, linked to their own table. */
const classes: ReadonlyArray<
  { readonly name: string; readonly schema: typeof AppConfig | typeof HealthConfig | typeof NotifyChannel }
> = [
  { name: "AppConfig", schema: AppConfig },
  { name: "HealthConfig", schema: HealthConfig },
  { name: "NotifyChannel", schema: NotifyChannel },
  { name: "ServerConfig", schema: ServerConfig as unknown as typeof NotifyChannel },
  { name: "SnapshotConfig", schema: SnapshotConfig as unknown as typeof NotifyChannel }
]

/** The blocks of inherited settings: structs, not classes, linked by their identifier. */
const blocks = ["AppDefaults", "HealthDefaults"]

const link = (name: string) => `[${name}](#${name.toLowerCase()})`

/** The schema a field holds, whether it is a plain schema or a property signature (optional, with a default). */
const fieldInfo = (field: Fields[string]) => {
  const ast = field.ast
  switch (ast._tag) {
    case "PropertySignatureDeclaration":
      return { type: ast.type, optional: ast.isOptional, annotations: ast.annotations }
    case "PropertySignatureTransformation":
      return { type: ast.from.type, optional: ast.from.isOptional, annotations: ast.to.annotations }
    default:
      return { type: ast, optional: false, annotations: {} as AST.Annotations }
  }
}

/** A pattern short enough to read in a table; longer ones are explained by the description. */
const MAX_PATTERN = 40

/** The type of an encoded value, in words: what one writes in the JSON file. */
const typeOf = (ast: AST.AST): string => {
  const cls = classes.find((c) => c.schema.ast === ast)
  if (cls !== undefined) return link(cls.name)
  if (Option.contains(AST.getIdentifierAnnotation(ast), "Duration")) return "[duration](#durations)"
  const block = blocks.find((b) => Option.contains(AST.getIdentifierAnnotation(ast), b))
  if (block !== undefined) return link(block)
  switch (ast._tag) {
    case "StringKeyword":
      return "string"
    case "NumberKeyword":
      return "number"
    case "BooleanKeyword":
      return "boolean"
    case "Literal":
      return `\`${JSON.stringify(ast.literal)}\``
    case "Union":
      // `undefined` is how an optional key looks inside: the default column says it.
      return ast.types.filter((t) => t._tag !== "UndefinedKeyword").map(typeOf).join(" or ")
    case "TupleType": {
      const item = ast.rest[0]?.type ?? ast.elements[0]!.type
      return `${ast.elements.length > 0 ? "non-empty " : ""}list of ${typeOf(item)}`
    }
    case "TypeLiteral": {
      const index = ast.indexSignatures[0]
      return index === undefined ? "object" : `object: name → ${typeOf(index.type)}`
    }
    case "Refinement": {
      const base = typeOf(ast.from)
      const json = Option.getOrElse(AST.getJSONSchemaAnnotation(ast), () => ({})) as Record<string, unknown>
      if (json["type"] === "integer") return "integer"
      if (typeof json["minimum"] === "number" && typeof json["maximum"] === "number") {
        return `${base} from ${json["minimum"]} to ${json["maximum"]}`
      }
      if (typeof json["pattern"] === "string" && json["pattern"].length <= MAX_PATTERN) {
        return `${base} matching \`${json["pattern"]}\``
      }
      return base
    }
    case "Transformation":
      return typeOf(ast.from)
    default:
      return ast._tag
  }
}

/** A duration as one would write it: `"15 minutes"`, `"500 millis"`. */
const durationText = (d: Duration.Duration): string => {
  const millis = Duration.toMillis(d)
  for (const [unit, size] of [["hour", 3_600_000], ["minute", 60_000], ["second", 1000]] as const) {
    if (millis >= size && millis % size === 0) return `"${millis / size} ${unit}${millis === size ? "" : "s"}"`
  }
  return `"${millis} millis"`
}

const defaultText = (name: string, value: unknown): string => {
  if (Duration.isDuration(value)) return `\`${durationText(value)}\``
  const cls = classes.find((c) => value instanceof c.schema)
  if (cls !== undefined) return `every default of ${link(cls.name)}`
  if (value === undefined) throw new Error(`the default of ${name} is undefined`)
  return `\`${JSON.stringify(value)}\``
}

/** A table cell: one line, pipes escaped (also inside code spans, as GitHub's tables need). */
const cell = (text: string) => text.replaceAll("\n", " ").replaceAll("|", "\\|")

const table = (section: Section): string => {
  // The fields need no services: decoding them is pure.
  const struct = Schema.Struct(section.fields) as unknown as Schema.Schema<Record<string, unknown>, unknown>
  const defaults = Schema.decodeUnknownSync(struct)(section.minimal)
  const rows = Object.entries(section.fields).map(([key, field]) => {
    const info = fieldInfo(field)
    const description = Option.getOrElse(AST.getDescriptionAnnotation({ annotations: info.annotations }), () => {
      throw new Error(`${section.name}.${key} has no description annotation: add one in src/domain/Config.ts`)
    })
    const fallback = !info.optional
      ? "required"
      : key in section.minimal || defaults[key] === undefined
      ? "none"
      : defaultText(`${section.name}.${key}`, defaults[key])
    return `| \`${key}\` | ${cell(typeOf(info.type))} | ${cell(fallback)} | ${cell(description)} |`
  })
  return [
    `## ${section.name}`,
    "",
    `At ${section.at}.`,
    "",
    "| key | type | default | description |",
    "|---|---|---|---|",
    ...rows
  ].join("\n")
}

const example = (): string => {
  const minimal = { apps: { keycloak: { recipe: "keycloak", domain: "id.example.org" } } }
  const decoded = decodeConfig(minimal)
  if (decoded._tag === "Left") throw new Error(decoded.left.message)
  const full = Schema.encodeSync(Config)(decoded.right)
  return [
    "## Example",
    "",
    "The smallest config:",
    "",
    "```json",
    JSON.stringify(minimal, null, 2),
    "```",
    "",
    "means, with every default filled in (durations in seconds):",
    "",
    "```json",
    JSON.stringify(full, null, 2),
    "```"
  ].join("\n")
}

export const configReference = (): string =>
  [
    "<!-- Generated by `npm run docs` (scripts/docs.ts) from src/domain/Config.ts: edit the Schema there. -->",
    "",
    "# Config reference",
    "",
    "The config file is JSON, by default `/etc/warm-reconcile/config.json` (`--config FILE`). It is",
    "decoded with the Schemas in `src/domain/Config.ts`: a key that is not listed here, or a value of",
    "the wrong type, stops the command with exit code 2 and one line that names the key's path.",
    "Keys may be added in later versions, never renamed.",
    "",
    ...sections.flatMap((s) => [table(s), ""]),
    "## Durations",
    "",
    "A duration is an Effect duration string, `\"<number> <unit>\"` with the unit one of `nanos`,",
    "`micros`, `millis`, `seconds`, `minutes`, `hours`, `days` or `weeks` (singular too), such as",
    "`\"90 seconds\"` or `\"15 minutes\"`; a short form as systemd and Go write it, numbers with the units",
    "`h`, `m`, `s`, `ms`, `us` or `ns` run together (`\"15m\"`, `\"1h30m\"`, `\"90s\"`); or a number of seconds",
    "(`900`). Never negative.",
    "",
    example(),
    ""
  ].join("\n")

export const alertSchema = (): string => `${JSON.stringify(JSONSchema.make(AlertFile), null, 2)}\n`

/** Each generated file by its path from the repository root. */
export const generate = (): Record<string, string> => ({
  "docs/config-reference.md": configReference(),
  "docs/alert.schema.json": alertSchema()
})

const ROOT = fileURLToPath(new URL("..", import.meta.url))

const main = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  for (const [file, content] of Object.entries(generate())) {
    yield* fs.writeFileString(Path.join(ROOT, file), content)
    yield* Effect.log(`wrote ${file}`)
  }
})

// Run as a script, not when a test imports the generator.
if (process.argv[1] !== undefined && Path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
}
