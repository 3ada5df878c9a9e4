# Evaluates nix/module.nix without nixpkgs: lib-stub.nix stands in for `lib`, a fake `pkgs` for
# the packages, and a small module below declares the NixOS options the module sets
# (systemd.services/timers, environment.etc, assertions, ...) with their real names and types.
# The unit files are rendered from the evaluated attributes the way NixOS renders them
# (nixos/lib/systemd-lib.nix: attrsToSection, commonUnitText, serviceToUnit, timerToUnit).
#
#   nix-instantiate --eval --strict --json nix/test/eval.nix   (add --store dummy:// as non-root)
#   WARM_RECONCILE_NIX_CASES='{"mine": {"config": {...}}}' nix-instantiate --eval --strict --json nix/test/eval.nix
#
# The cases, by name: { "config": <services.warm-reconcile>, "abra": <bool, default true> }
# ("abra": whether pkgs has an abra package). Without the variable: `enabled`, a sample with two
# apps, and `disabled`, the same with enable = false. The answer is a JSON object with one entry
# per case. Failed assertions abort the evaluation with their messages, as nixos-rebuild does.
let
  b = builtins;
  lib = import ./lib-stub.nix;
  inherit (lib) types mkOption optionalAttrs optionalString;

  # A stand-in derivation: a store path made from its name (and text) plus its attributes.
  fakeDrv = name: attrs:
    attrs // {
      type = "derivation";
      inherit name;
      outPath = "/nix/store/${b.substring 0 32 (b.hashString "sha256" (name + (attrs.text or "")))}-${name}";
    };

  mkPkgs = withAbra:
    let
      self = {
        inherit lib;
        writeText = name: text: fakeDrv name { inherit text; };
        formats.json = { }: {
          type =
            let
              valueType = types.nullOr (types.oneOf [
                types.bool
                types.int
                types.float
                types.str
                types.path
                (types.attrsOf valueType)
                (types.listOf valueType)
              ]) // { description = "JSON value"; };
            in
            valueType;
          # nixpkgs pretty-prints with jq; the content is the same JSON.
          generate = name: value: self.writeText name (b.toJSON value);
        };
        callPackage = fn: overrides:
          let f = if b.isFunction fn then fn else import fn;
          in f (b.intersectAttrs (b.functionArgs f) self // overrides);
        # Keeps its arguments, so that the test can look at what nix/package.nix asks for.
        buildNpmPackage = args: fakeDrv "${args.pname}-${args.version}" {
          inherit (args) pname version meta;
          buildArgs = args;
        };
        nodejs_20 = fakeDrv "nodejs-20.19.5" { meta.mainProgram = "node"; };
        makeWrapper = fakeDrv "make-shell-wrapper-hook" { };
        git = fakeDrv "git-2.50.1" { };
        gnutar = fakeDrv "gnutar-1.35" { };
        coreutils = fakeDrv "coreutils-9.7" { };
        findutils = fakeDrv "findutils-4.10.0" { };
        gnugrep = fakeDrv "gnugrep-3.12" { };
        gnused = fakeDrv "gnused-4.9" { };
        systemd = fakeDrv "systemd-257.6" { };
        bash = fakeDrv "bash-5.2p37" { };
        runtimeShell = "${self.bash}/bin/bash";
      }
      // optionalAttrs withAbra { abra = fakeDrv "abra-0.11.0-beta" { }; };
    in
    self;

  # ---- the NixOS options module.nix sets, as declared by nixpkgs ------------------------------

  # nixos/lib/systemd-unit-options.nix: a unit setting is an atom or a list of atoms; lists from
  # several definitions are concatenated, atoms must agree.
  unitOption =
    let atomic = x: b.isBool x || b.isInt x || b.isFloat x || b.isString x || lib.isStringLike x;
    in types.mkOptionType {
      name = "systemd option";
      check = x: atomic x || (b.isList x && b.all atomic x);
      merge = loc: defs:
        if b.any (d: b.isList d.value) defs then b.concatMap (d: lib.toList d.value) defs
        else lib.mergeEqualOption loc defs;
    };
  listOfStr = default: mkOption { type = types.listOf types.str; inherit default; };
  unitOptions = {
    enable = mkOption { type = types.bool; default = true; };
    description = mkOption { type = types.str; default = ""; };
    documentation = listOfStr [ ];
    requires = listOfStr [ ];
    wants = listOfStr [ ];
    upholds = listOfStr [ ];
    after = listOfStr [ ];
    before = listOfStr [ ];
    bindsTo = listOfStr [ ];
    partOf = listOfStr [ ];
    conflicts = listOfStr [ ];
    requisite = listOfStr [ ];
    wantedBy = listOfStr [ ];
    requiredBy = listOfStr [ ];
    upheldBy = listOfStr [ ];
    onFailure = listOfStr [ ];
    onSuccess = listOfStr [ ];
    unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
    restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; };
    reloadTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; };
  };
  serviceOptions = unitOptions // {
    environment = mkOption {
      type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
      default = { };
    };
    path = mkOption { type = types.listOf (types.oneOf [ types.package types.str ]); default = [ ]; };
    serviceConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
    script = mkOption { type = types.lines; default = ""; };
    preStart = mkOption { type = types.lines; default = ""; };
    postStart = mkOption { type = types.lines; default = ""; };
    restartIfChanged = mkOption { type = types.bool; default = true; };
    reloadIfChanged = mkOption { type = types.bool; default = false; };
    stopIfChanged = mkOption { type = types.bool; default = true; };
    startAt = mkOption { type = types.either types.str (types.listOf types.str); default = [ ]; };
  };
  timerOptions = unitOptions // {
    timerConfig = mkOption { type = types.attrsOf unitOption; default = { }; };
  };
  nixosOptions = {
    options = {
      assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; };
      warnings = mkOption { type = types.listOf types.str; default = [ ]; };
      environment.etc = mkOption {
        type = types.attrsOf (types.submodule {
          options.source = mkOption { type = types.path; };
          options.mode = mkOption { type = types.str; default = "symlink"; };
        });
        default = { };
      };
      environment.systemPackages = mkOption { type = types.listOf types.package; default = [ ]; };
      systemd.services = mkOption { type = types.attrsOf (types.submodule { options = serviceOptions; }); default = { }; };
      systemd.timers = mkOption { type = types.attrsOf (types.submodule { options = timerOptions; }); default = { }; };
      systemd.tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; };
    };
  };

  # ---- unit text, as nixos/lib/systemd-lib.nix writes it --------------------------------------

  toOption = x: if x == true then "true" else if x == false then "false" else toString x;
  attrsToSection = as:
    lib.concatStrings (b.concatLists (lib.mapAttrsToList
      (name: value: map (x: "${name}=${toOption x}\n") (if b.isList value then value else [ value ]))
      as));
  unitSection = pkgs: name: def:
    let
      deps = [
        [ "Requires" "requires" ]
        [ "Wants" "wants" ]
        [ "Upholds" "upholds" ]
        [ "After" "after" ]
        [ "Before" "before" ]
        [ "BindsTo" "bindsTo" ]
        [ "PartOf" "partOf" ]
        [ "Conflicts" "conflicts" ]
        [ "Requisite" "requisite" ]
        [ "Documentation" "documentation" ]
        [ "OnFailure" "onFailure" ]
        [ "OnSuccess" "onSuccess" ]
      ];
    in
    b.listToAttrs (b.concatMap
      (d: let v = def.${b.elemAt d 1}; in if v == [ ] then [ ] else [ { name = b.head d; value = toString v; } ])
      deps)
    // optionalAttrs (def.restartTriggers != [ ]) {
      X-Restart-Triggers = "${pkgs.writeText "X-Restart-Triggers-${name}" (toString def.restartTriggers)}";
    }
    // optionalAttrs (def.description != "") { Description = def.description; }
    // def.unitConfig;
  commonUnitText = pkgs: name: def: lines:
    "[Unit]\n${attrsToSection (unitSection pkgs name def)}\n"
    + lines
    + optionalString (def.wantedBy != [ ]) "\n[Install]\nWantedBy=${lib.concatStringsSep " " def.wantedBy}\n";
  serviceText = pkgs: name: def:
    let
      # stage2ServiceConfig: every service's PATH ends with these.
      path = def.path ++ [ pkgs.coreutils pkgs.findutils pkgs.gnugrep pkgs.gnused pkgs.systemd ];
      env = def.environment // {
        PATH = "${lib.makeBinPath path}:${lib.makeSearchPathOutput "bin" "sbin" path}";
      };
    in
    commonUnitText pkgs name def (
      "[Service]\n"
      + lib.concatMapStrings (n: optionalString (env.${n} != null) "Environment=${b.toJSON "${n}=${env.${n}}"}\n") (b.attrNames env)
      + (if def.reloadIfChanged then "X-ReloadIfChanged=true\n" else if !def.restartIfChanged then "X-RestartIfChanged=false\n" else "")
      + optionalString (!def.stopIfChanged) "X-StopIfChanged=false\n"
      + attrsToSection def.serviceConfig
    );
  timerText = pkgs: name: def: commonUnitText pkgs name def "[Timer]\n${attrsToSection def.timerConfig}\n";

  # ---- one evaluation -------------------------------------------------------------------------

  packageInfo = p:
    let a = p.buildArgs or { };
    in {
      inherit (p) name;
      # Not `outPath`: a JSON object with an outPath prints as that string alone.
      storePath = p.outPath;
      npmDepsHash = a.npmDepsHash or null;
      npmBuildScript = a.npmBuildScript or null;
      dontNpmInstall = a.dontNpmInstall or false;
      nodejs = a.nodejs.name or null;
      nativeBuildInputs = map (d: d.name) (a.nativeBuildInputs or [ ]);
      installPhase = a.installPhase or null;
      srcFiles = a.src.files or null;
      mainProgram = p.meta.mainProgram or null;
      license = p.meta.license.spdxId or null;
    };

  evaluate = case:
    let
      pkgs = mkPkgs (case.abra or true);
      evaluated = lib.evalModules {
        modules = [ nixosOptions ../module.nix { _file = "eval.nix case"; services.warm-reconcile = case.config; } ];
        specialArgs = { inherit pkgs; };
      };
      c = evaluated.config;
      cfg = c.services.warm-reconcile;
      failed = map (a: a.message) (b.filter (a: !a.assertion) c.assertions);
    in
    if failed != [ ] then
      throw "\nFailed assertions:\n${lib.concatMapStrings (m: "- ${m}\n") failed}"
    else {
      inherit (c) warnings;
      services = c.systemd.services;
      timers = c.systemd.timers;
      units =
        b.listToAttrs (lib.mapAttrsToList (n: def: { name = "${n}.service"; value = serviceText pkgs n def; }) c.systemd.services)
        // b.listToAttrs (lib.mapAttrsToList (n: def: { name = "${n}.timer"; value = timerText pkgs n def; }) c.systemd.timers);
      etc = b.mapAttrs (_: e: { source = toString e.source; text = e.source.text or null; }) c.environment.etc;
      tmpfiles = c.systemd.tmpfiles.rules;
      systemPackages = map toString c.environment.systemPackages;
      package = if cfg.enable then packageInfo cfg.package else null;
      settings = if cfg.enable then cfg.settings else null;
    };

  sample = {
    enable = true;
    settings.abraDir = "/root/.abra";
    apps = {
      keycloak = {
        recipe = "keycloak";
        domain = "id.example.org";
        stateful = true;
        upgrade = "minor";
        deployTimeout = "15 minutes";
        health = { path = "/realms/master"; okStatus = [ 200 ]; connect = "127.0.0.1:443"; timeout = "15 minutes"; };
      };
      wiki = {
        recipe = "mediawiki";
        domain = "wiki.example.org";
        upgrade = "patch";
        health.successes = 3;
      };
    };
  };
  casesJson = b.getEnv "WARM_RECONCILE_NIX_CASES";
in
b.mapAttrs (_: evaluate) (
  if casesJson == "" then {
    enabled.config = sample;
    disabled.config = sample // { enable = false; };
  } else b.fromJSON casesJson
)
