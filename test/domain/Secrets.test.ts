import { describe, expect, it } from "@effect/vitest"
import { missingSecrets } from "../../src/domain/Secrets.js"

describe("Secrets.missingSecrets", () => {
  const stack = "id_example_org"

  it("names the declared secrets the stack lacks, in declared order", () => {
    const present = [
      "id_example_org_admin_password_v1",
      // Same secret, other stack: does not count.
      "other_org_db_password_v2",
      // Same secret, older version: does not count.
      "id_example_org_db_password_v1"
    ]
    expect(missingSecrets(stack, ["db_password_v2", "admin_password_v1", "smtp_password_v1"], present)).toEqual([
      "db_password_v2",
      "smtp_password_v1"
    ])
  })

  it("is empty when every declared secret exists", () => {
    expect(missingSecrets(stack, ["admin_password_v1"], ["id_example_org_admin_password_v1", "unrelated"])).toEqual([])
    expect(missingSecrets(stack, [], [])).toEqual([])
  })

  it("needs an exact name: a prefix or suffix match is not enough", () => {
    expect(missingSecrets(stack, ["admin_password_v1"], ["id_example_org_admin_password_v10"])).toEqual([
      "admin_password_v1"
    ])
    expect(missingSecrets(stack, ["admin_password_v1"], ["xid_example_org_admin_password_v1"])).toEqual([
      "admin_password_v1"
    ])
  })

  it("names everything when the stack has no secrets", () => {
    expect(missingSecrets(stack, ["a_v1", "b_v1"], [])).toEqual(["a_v1", "b_v1"])
  })
})
