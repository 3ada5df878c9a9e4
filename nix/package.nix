# warm-reconcile as a Nix package: `npm run build` bundles the CLI into one file,
# dist/warm-reconcile.mjs, and bin/warm-reconcile runs it with Node 20. Nothing else is installed:
# the bundle holds every dependency.
#
#   pkgs.callPackage ./nix/package.nix { npmDepsHash = "sha256-..."; }
{
  lib,
  buildNpmPackage,
  nodejs_20,
  makeWrapper,
  # The hash of the npm dependencies locked in package-lock.json. It could not be computed where
  # this file was written (no nixpkgs there), so it is a placeholder that the operator fills in:
  # build once, and Nix stops with "hash mismatch ... got: sha256-..."; pass that value here (or
  # write it in place of lib.fakeHash), or compute it with `prefetch-npm-deps package-lock.json`.
  # Update it whenever package-lock.json changes.
  npmDepsHash ? lib.fakeHash,
}:

buildNpmPackage {
  pname = "warm-reconcile";
  inherit ((lib.importJSON ../package.json)) version;

  # Only what the build reads: a change to the tests or docs does not rebuild the package.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../package.json
      ../package-lock.json
      ../tsconfig.json
      ../scripts
      ../src
    ];
  };

  inherit npmDepsHash;
  nodejs = nodejs_20;

  # `npm run build` (scripts/build.mjs: esbuild). The npm hooks install dependencies with
  # --ignore-scripts, so package.json's `prepare` does not build a second time.
  npmBuildScript = "build";

  nativeBuildInputs = [ makeWrapper ];

  # The bundle alone, not the node_modules tree that the default npm install step would copy.
  dontNpmInstall = true;
  installPhase = ''
    runHook preInstall
    install -Dm644 dist/warm-reconcile.mjs "$out/lib/warm-reconcile/warm-reconcile.mjs"
    makeWrapper ${nodejs_20}/bin/node "$out/bin/warm-reconcile" \
      --add-flags "$out/lib/warm-reconcile/warm-reconcile.mjs"
    runHook postInstall
  '';

  meta = {
    description = "Keeps abra (Co-op Cloud) apps up to date, health-gated, with data snapshots and rollback";
    license = lib.licenses.agpl3Plus;
    mainProgram = "warm-reconcile";
    platforms = lib.platforms.linux;
  };
}
