# NixOS module: services.warm-reconcile.
#
#   imports = [ ./nix/module.nix ];
#   services.warm-reconcile = {
#     enable = true;
#     abraPackage = myAbra;
#     settings.abraDir = "/root/.abra";
#     defaults.health.timeout = "20 minutes";
#     recipes.keycloak.health.path = "/realms/master";
#     apps.keycloak = { recipe = "keycloak"; domain = "id.example.org"; upgrade = "minor"; };
#   };
#
# The apps, `defaults` and `recipes` are typed: a misspelt key ("statefull"), a bad `upgrade` or a
# duration the CLI would refuse fails `nixos-rebuild`, not the night. Keys the types do not know
# yet go in `settings` (untyped JSON, merged into the same file; the CLI still checks them).
#
# The units, as contrib/systemd writes them:
#   warm-reconcile.service         a oneshot, `reconcile --all`; no target wants it: timers start
#                                  it, so nothing at boot or on switch waits for a run. systemd
#                                  never runs one unit twice at once (a start while it runs joins).
#   warm-reconcile.timer           OnCalendar = schedule (RandomizedDelaySec, Persistent) and, with
#                                  runAtBoot, OnBootSec = 5min: the boot run, after Docker and the
#                                  Swarm services are up. (A timer whose unit changed is restarted
#                                  on switch, which fires an OnBootSec that lies in the past.)
#   warm-reconcile-on-switch       with runOnActivation: wanted by sysinit-reactivation.target,
#     .service                     which NixOS (24.05+) restarts on every switch and which is not
#                                  reached at boot; it runs `systemctl start --no-block
#                                  warm-reconcile.service`, so the switch does not wait for the run.
#   warm-reconcile-notify.service  `notify`: the outbox backlog, started by the main unit's
#     and .timer                   OnFailure= and every 15 minutes.
#
# restartIfChanged = false: a switch never stops a reconcile that is running (stopping it means
# rolling an upgrade back halfway); the new unit takes effect from the next run.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkDefault mkEnableOption mkIf mkMerge mkOption optional optionalAttrs types;
  b = builtins;

  cfg = config.services.warm-reconcile;
  json = pkgs.formats.json { };
  configFile = json.generate "warm-reconcile.json" cfg.settings;

  # Under /var/lib systemd creates and owns the directory (StateDirectory=); elsewhere tmpfiles does.
  stateUnderVarLib = lib.hasPrefix "/var/lib/" cfg.stateDir;

  # As src/domain/Config.ts AppName: app names become file names under the state directory.
  validAppName = name: b.match "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}" name != null && !(lib.hasInfix ".." name);
  appNames = b.attrNames (cfg.settings.apps or { });
  badAppNames = b.filter (n: !validAppName n) appNames;
  appsMissing = key: b.filter (n: !(b.isString (cfg.settings.apps.${n}.${key} or null))) appNames;

  # ---- durations, with the CLI's grammar (src/domain/Config.ts DurationSetting) ----------------
  # A number of seconds >= 0, or "<number> <unit>" as Effect's Duration reads it (nanos, micros,
  # millis, seconds, minutes, hours, days, weeks; singular or plural; spaces around ignored), or
  # the short forms people type, as systemd and Go write them ("90s", "15m", "1h30m", "2d").
  longDuration = "[[:space:]]*([0-9]+(\\.[0-9]+)?)[[:space:]]+(nano|micro|milli|second|minute|hour|day|week)s?[[:space:]]*";
  shortPart = "([0-9]+(\\.[0-9]+)?)(ms|s|m|h|d)";
  unitSeconds = {
    nano = 1.0e-9; micro = 1.0e-6; milli = 1.0e-3; second = 1; minute = 60; hour = 3600; day = 86400; week = 604800;
    ms = 1.0e-3; s = 1; m = 60; h = 3600; d = 86400;
  };
  # "015" is 15 to the CLI (JavaScript's Number) but no JSON number: drop leading zeros first.
  number = digits: b.fromJSON (b.head (b.match "0*([0-9].*)" digits));
  # Seconds, or null for what the CLI refuses.
  durationSeconds = v:
    if b.isInt v || b.isFloat v then (if v >= 0 then v else null)
    else if !(b.isString v) then null
    else
      let long = b.match longDuration v;
      in
      if long != null then number (b.elemAt long 0) * unitSeconds.${b.elemAt long 2}
      else if b.match "(${shortPart})+" v != null then
        b.foldl' (sum: part: sum + number (b.elemAt part 0) * unitSeconds.${b.elemAt part 2}) 0
          (b.filter b.isList (b.split shortPart v))
      else null;
  duration = types.mkOptionType {
    name = "warm-reconcile-duration";
    description = "duration (seconds >= 0, \"15 minutes\", or \"15m\" / \"1h30m\")";
    check = v: durationSeconds v != null;
    merge = lib.mergeEqualOption;
  };

  # A maintenance window as the CLI reads it (src/domain/Window.ts): "[days] HH:MM-HH:MM", days such
  # as "Mon-Fri" or "Sat,Sun" in any case, 00:00 to 24:00, start and end different, start not 24:00.
  day = "([Ss][Uu][Nn]|[Mm][Oo][Nn]|[Tt][Uu][Ee]|[Ww][Ee][Dd]|[Tt][Hh][Uu]|[Ff][Rr][Ii]|[Ss][Aa][Tt])";
  days = "${day}(-${day})?(,${day}(-${day})?)*";
  clock = "(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)";
  windowText = v:
    let
      range = b.match "[[:space:]]*(${days}[[:space:]]+)?(${clock})-(${clock})[[:space:]]*" v;
      # The groups: 1 the days and their space (7 more inside), 9 and 12 the two times (2 more each).
      start = b.elemAt range 8;
      end = b.elemAt range 11;
    in
    b.isString v && range != null && start != end && start != "24:00";
  window = types.mkOptionType {
    name = "warm-reconcile-window";
    description = "maintenance window (\"02:00-05:00\", \"Mon-Fri 02:00-05:00\") or a non-empty list of them";
    check = v: windowText v || (b.isList v && v != [ ] && b.all windowText v);
    merge = lib.mergeEqualOption;
  };
  volumeNames = types.mkOptionType {
    name = "warm-reconcile-volumes";
    description = "non-empty list of volume names";
    check = v: b.isList v && v != [ ] && b.all (x: b.isString x && b.match "[A-Za-z0-9][A-Za-z0-9_.-]*" x != null) v;
    merge = lib.mergeEqualOption;
  };

  # ---- the typed parts of the config file ------------------------------------------------------
  # Every key is optional (null: not written, the CLI's default or the inherited value applies);
  # the descriptions are the config reference's (docs/config-reference.md).
  optional' = type: description: mkOption { type = types.nullOr type; default = null; inherit description; };
  healthModule = {
    options = {
      path = optional' (types.strMatching "/.*") "The HTTP path probed, starting with `/`.";
      okStatus = optional' (types.listOf (types.ints.between 100 599)) "The HTTP status codes that count as healthy.";
      connect = optional' (types.strMatching "([[][0-9A-Fa-f:.]+[]]|[A-Za-z0-9.-]+):[0-9]{1,5}") "`host:port` the probe connects to.";
      # null is a value here (the CLI's default), so these two are always written.
      url = optional' (types.strMatching "https?://[^[:space:]]+") "A whole http(s) URL to fetch instead of `path` through `connect`.";
      verifyTls = optional' types.bool "Verify the TLS certificate of the health target (null: only off the host).";
      timeout = optional' duration "How long a deployed version gets to become healthy.";
      attemptTimeout = optional' duration "The time limit of one probe.";
      successes = optional' (types.ints.between 1 100) "How many healthy answers in a row pass the gate.";
      interval = optional' duration "The pause between probes.";
      failedTasks = optional' (types.ints.between 1 1000) "This many failed Swarm tasks end the wait early.";
      settle = optional' duration "How long an app already on the latest version gets to answer healthy.";
    };
  };
  snapshotModule = {
    options = {
      volumes = optional' volumeNames "The volumes snapshotted, by their name in the recipe or in Docker (absent: all).";
      exclude = optional' (types.attrsOf (types.listOf types.str)) "Paths left out of the snapshot, per volume (rsync patterns).";
      keep = optional' (types.ints.between 0 100) "Older snapshots kept besides the last one.";
    };
  };
  # What `defaults`, each of `recipes` and each app may set.
  inheritedOptions = {
    stateful = optional' types.bool "Undeploy and snapshot the volumes before an upgrade, restore them on a rollback.";
    upgrade = optional' (types.enum [ "minor" "patch" "none" ]) "Which upgrades are applied: minor, patch or none.";
    deployTimeout = optional' duration "How long one `abra app deploy` may take.";
    health = optional' (types.submodule healthModule) "How the health gate probes the app.";
    window = optional' window "Maintenance windows, replacing the global `window`.";
    minReleaseAge = optional' duration "Soak time of fresh releases, replacing the global `minReleaseAge`.";
    snapshot = optional' (types.submodule snapshotModule) "What a stateful app's snapshot covers and keeps.";
  };
  appModule = {
    options = inheritedOptions // {
      recipe = optional' (types.strMatching "[a-z0-9][a-z0-9_-]*") "The Co-op Cloud recipe (required).";
      domain = optional' types.str "The app's domain, abra's name for the app (required).";
      server = optional' (types.strMatching "[A-Za-z0-9][A-Za-z0-9_.-]*") "The abra server the app runs on (default: `default`).";
      enabled = optional' types.bool "`false` pauses the app: plan and status say paused, reconcile does nothing.";
      create = optional' types.bool "Create the app (`abra app new`) when it has no env file.";
      keepDeployed = optional' types.bool "Deploy the app when a person undeployed it.";
    };
  };

  # A typed value as JSON: nulls dropped (but the health `url` and `verifyTls`, whose null means
  # something), and the module system's own `_module` left out.
  toJson = keep: v:
    if b.isAttrs v then
      b.mapAttrs (_: toJson [ "url" "verifyTls" ])
        (lib.filterAttrs (n: x: n != "_module" && (x != null || b.elem n keep)) v)
    else v;
  appsJson = b.mapAttrs (_: toJson [ ]) cfg.apps;
  defaultsJson = toJson [ ] cfg.defaults;
  recipesJson = b.mapAttrs (_: toJson [ ]) cfg.recipes;

  # ---- the stop timeout: time for the longest rollback the config allows -----------------------
  # A rollback after SIGTERM: undeploy, restore the snapshot, redeploy last-good (at most
  # deployTimeout), check its health (at most health.timeout). Each app's values as the CLI
  # resolves them (the app, its recipe's block, `defaults`, the built-in 15 minutes), plus
  # `restoreAllowance` for the undeploy and the restore.
  setting = app: path: default:
    let
      at = set: lib.attrByPath path null set;
      found = b.filter (v: v != null && durationSeconds v != null) [
        (at app)
        (at (cfg.settings.recipes.${app.recipe or ""} or { }))
        (at (cfg.settings.defaults or { }))
      ];
    in
    if found == [ ] then default else durationSeconds (b.head found);
  rollbackSeconds = app: setting app [ "deployTimeout" ] 900 + setting app [ "health" "timeout" ] 900;
  longestRollback = b.foldl' (m: app: if rollbackSeconds app > m then rollbackSeconds app else m) 1800
    (b.attrValues (cfg.settings.apps or { }));
  stopSeconds = b.ceil (longestRollback + cfg.restoreAllowance);
  stopTimeout =
    if cfg.stopTimeout != null then cfg.stopTimeout
    else if lib.mod stopSeconds 60 == 0 then "${toString (stopSeconds / 60)}min"
    else "${toString stopSeconds}s";

  # ---- what every unit of ours shares -----------------------------------------------------------
  # abra (Go) wants a home directory for its Docker contexts; root's, as on any abra server.
  serviceEnvironment = mkMerge [ { HOME = mkDefault "/root"; } cfg.environment ];
  # Hardening that contrib/systemd/warm-reconcile.service explains line by line.
  hardening = {
    UMask = "0077";
    ProtectSystem = "strict";
    ProtectHome = "read-only";
    PrivateTmp = true;
    NoNewPrivileges = true;
    SystemCallFilter = "@system-service";
    SystemCallErrorNumber = "EPERM";
    SystemCallArchitectures = "native";
    ProtectProc = "invisible";
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectClock = true;
    ProtectHostname = true;
    RestrictRealtime = true;
    RestrictNamespaces = true;
    LockPersonality = true;
    RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" "AF_NETLINK" ];
  };
  stateDirectory =
    optionalAttrs stateUnderVarLib {
      StateDirectory = lib.removePrefix "/var/lib/" cfg.stateDir;
      StateDirectoryMode = "0700";
    };
  # Writable under ProtectSystem=strict: Docker's volumes (restored in place), abra's directory and
  # its Docker context ("-": no error when missing), the state directory outside /var/lib, the
  # metrics file's directory.
  writablePaths = lib.unique (
    [ "-/var/lib/docker" "-/root/.abra" "-/root/.docker" ]
    ++ optional (cfg.settings ? abraDir) "-${cfg.settings.abraDir}"
    ++ optional (cfg.environment ? ABRA_DIR) "-${cfg.environment.ABRA_DIR}"
    ++ optional (!stateUnderVarLib) cfg.stateDir
    ++ optional (cfg.metricsFile != null) (b.dirOf cfg.metricsFile)
    ++ cfg.readWritePaths
  );
in
{
  options.services.warm-reconcile = {
    enable = mkEnableOption "warm-reconcile: health-gated upgrades of abra (Co-op Cloud) apps with rollback";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = lib.literalExpression "pkgs.callPackage ./nix/package.nix { }";
      description = "The warm-reconcile package (its `bin/warm-reconcile` runs the bundle with Node 20).";
    };

    abraPackage = mkOption {
      type = types.nullOr types.package;
      default = pkgs.abra or null;
      defaultText = lib.literalExpression "pkgs.abra or null";
      description = ''
        The abra build whose `abra` the service runs. nixpkgs' abra may be missing or older than
        your recipes need: set your own build here. Evaluation fails while this is null.
      '';
    };

    path = mkOption {
      type = types.listOf types.package;
      default = [ ];
      example = lib.literalExpression "[ pkgs.openssh ]";
      description = ''
        More packages on the service's PATH. abra, git and GNU tar are always there; add openssh
        when abra manages servers over SSH.
      '';
    };

    settings = mkOption {
      type = json.type;
      default = { };
      example = { abraDir = "/root/.abra"; };
      description = ''
        The JSON config file, as documented in docs/config-reference.md. The module sets
        `stateDir`, `apps`, `discover`, `window`, `minReleaseAge`, `defaults` and `recipes` from the
        typed options below (a recipe's soak time: `recipes.<name>.minReleaseAge`);
        keys those do not know go here untyped (merged, e.g. `settings.apps.<name>.<key>`).
        Unknown keys are rejected by warm-reconcile (exit 2).
      '';
    };

    apps = mkOption {
      type = types.attrsOf (types.submodule appModule);
      default = { };
      example = {
        keycloak = {
          recipe = "keycloak";
          domain = "id.example.org";
          upgrade = "minor";
          health = { path = "/realms/master"; timeout = "15 minutes"; };
        };
      };
      description = ''
        The apps to reconcile, by name (merged into `settings.apps`). Typed: `upgrade` is one of
        minor, patch or none, booleans are booleans, durations are checked with the CLI's grammar,
        and a key that does not exist fails the evaluation.
      '';
    };

    discover = mkOption {
      type = types.nullOr types.bool;
      default = null;
      description = "Manage every app whose env file sets `ENABLE_AUTO_UPDATE=true` (null: the CLI's default, off).";
    };

    window = mkOption {
      type = types.nullOr window;
      default = null;
      example = "Mon-Fri 02:00-05:00";
      description = ''
        Maintenance windows in the server's local time (null: any time). Outside every window a run
        only plans, holds and alerts; the boot run and a missed night's run respect it too.
      '';
    };

    minReleaseAge = mkOption {
      type = types.nullOr duration;
      default = null;
      example = "3 days";
      description = "A soak time for fresh releases: a release is a candidate once its tag is this old (null: none).";
    };

    defaults = mkOption {
      type = types.submodule { options = inheritedOptions; };
      default = { };
      example = { health.timeout = "20 minutes"; upgrade = "patch"; };
      description = "Settings every app inherits unless it (or its recipe's block) sets them.";
    };

    recipes = mkOption {
      type = types.attrsOf (types.submodule { options = inheritedOptions; });
      default = { };
      example = { keycloak.health.path = "/realms/master"; nextcloud.health.path = "/status.php"; };
      description = "Per-recipe defaults, by recipe name: between `defaults` and the app's own settings.";
    };

    stateDir = mkOption {
      type = types.str;
      default = "/var/lib/warm-reconcile";
      description = "Where last-good state, snapshots of app volumes and alerts are kept (mode 0700).";
    };

    environment = mkOption {
      type = types.attrsOf types.str;
      default = { };
      example = { ABRA_DIR = "/root/.abra"; };
      description = "Extra environment variables of the service (HOME is /root unless set here).";
    };

    concurrency = mkOption {
      type = types.ints.positive;
      default = 1;
      description = "How many apps are reconciled at once (`--concurrency`).";
    };

    metricsFile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/var/lib/prometheus-node-exporter/textfile/warm-reconcile.prom";
      description = "Write Prometheus metrics here after each run (`--metrics-file`), for node_exporter's textfile collector.";
    };

    readWritePaths = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "/srv/docker" ];
      description = ''
        More paths the service may write (ReadWritePaths=; the rest of the system is read-only to
        it): e.g. a Docker data root other than /var/lib/docker. The state directory, abra's
        directory and the metrics file's directory are added already.
      '';
    };

    schedule = mkOption {
      type = types.str;
      default = "daily";
      example = "*-*-* 03:30:00";
      description = "When the timer runs a reconcile: a systemd.time(7) calendar expression (OnCalendar=).";
    };

    randomizedDelaySec = mkOption {
      type = types.ints.unsigned;
      default = 900;
      description = "Random delay of each timer run, in seconds (RandomizedDelaySec=), as podman auto-update.";
    };

    persistent = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Run at boot when the machine was off at the scheduled time (Persistent=). Off: the boot
        run (runAtBoot) covers that night, 5 minutes after boot; Persistent's catch-up would start
        as the boot starts, before the Swarm services are up.
      '';
    };

    runAtBoot = mkOption {
      type = types.bool;
      default = true;
      description = "Run once 5 minutes after boot (the timer's OnBootSec=), when Docker and the Swarm services are up.";
    };

    runOnActivation = mkOption {
      type = types.bool;
      default = true;
      description = "Start a run on every `nixos-rebuild switch` (without waiting for it), so a changed app list takes effect at once.";
    };

    restoreAllowance = mkOption {
      type = types.ints.unsigned;
      default = 900;
      description = ''
        Seconds the default stop timeout allows for undeploying an app and restoring its volume
        snapshot (about as long as its snapshot took): raise it for large volumes.
      '';
    };

    stopTimeout = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "2h";
      description = ''
        How long a stop (shutdown, `systemctl stop`) waits after SIGTERM (TimeoutStopSec=). The
        program answers SIGTERM by rolling an upgrade in progress back: undeploy, restore the
        volume snapshot, redeploy last-good and check its health; SIGKILL must not land in the
        middle of a restore. null: sized from the config, the slowest app's deployTimeout plus
        health.timeout (as it, its recipe's block or `defaults` set them; 15 minutes each by
        default) plus `restoreAllowance`, at least 45 minutes.
      '';
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      services.warm-reconcile.settings = {
        inherit (cfg) stateDir;
        apps = appsJson;
        discover = mkIf (cfg.discover != null) cfg.discover;
        window = mkIf (cfg.window != null) cfg.window;
        minReleaseAge = mkIf (cfg.minReleaseAge != null) cfg.minReleaseAge;
        defaults = mkIf (defaultsJson != { }) defaultsJson;
        recipes = mkIf (recipesJson != { }) recipesJson;
      };

      assertions = [
        {
          assertion = cfg.abraPackage != null;
          message = "services.warm-reconcile.abraPackage is null: set it to an abra build (nixpkgs has none, or an old one); the service runs `abra` from its PATH.";
        }
        {
          assertion = badAppNames == [ ];
          message = "services.warm-reconcile.apps: bad app name(s) ${b.toJSON badAppNames}: an app name is letters, digits, '.', '_' or '-', starts with a letter or digit, and holds no '..'.";
        }
        {
          assertion = appsMissing "recipe" == [ ] && appsMissing "domain" == [ ];
          message = "services.warm-reconcile.apps: every app needs a string `recipe` and `domain`; missing in ${b.toJSON (lib.unique (appsMissing "recipe" ++ appsMissing "domain"))}.";
        }
        {
          assertion = lib.hasPrefix "/" cfg.stateDir;
          message = "services.warm-reconcile.stateDir must be an absolute path, got \"${cfg.stateDir}\".";
        }
      ];

      warnings = optional (!cfg.runAtBoot && cfg.runOnActivation)
        "services.warm-reconcile: runOnActivation without runAtBoot relies on sysinit-reactivation.target (NixOS 24.05 and later); on older NixOS nothing runs on switch.";

      # The path the README and `warm-reconcile --help` use, for runs by hand.
      environment.etc."warm-reconcile/config.json".source = configFile;
      environment.systemPackages = [ cfg.package ];

      systemd.services.warm-reconcile = {
        description = "warm-reconcile: upgrade abra apps, health-gated, with rollback";
        after = [ "docker.service" "network-online.target" ];
        wants = [ "docker.service" "network-online.target" ];
        # A failed run delivers the alerts it left at once.
        onFailure = [ "warm-reconcile-notify.service" ];
        restartIfChanged = false;
        # abra and git for recipes and deploys, GNU tar for volume snapshots.
        path = b.filter (p: p != null) [ cfg.abraPackage pkgs.git pkgs.gnutar ] ++ cfg.path;
        environment = serviceEnvironment;

        serviceConfig = hardening // stateDirectory // {
          Type = "oneshot";
          RemainAfterExit = false;
          ExecStart = "${cfg.package}/bin/warm-reconcile reconcile --all --config ${configFile} --concurrency ${toString cfg.concurrency}"
            + (if cfg.metricsFile == null then "" else " --metrics-file ${cfg.metricsFile}");
          # 143 (130): stopped by SIGTERM (SIGINT) after any rollback finished and was alerted: a
          # stop that was asked for, not a failed unit at every shutdown. 1 (unhealthy, failed)
          # and 2 (bad config) stay failures.
          SuccessExitStatus = "130 143";
          # SIGTERM to node alone: it interrupts its own abra/tar children and starts the rollback,
          # whose new children must not be signalled. Whatever is left after node exits (or after
          # TimeoutStopSec) gets SIGKILL.
          KillMode = "mixed";
          TimeoutStopSec = stopTimeout;
          ReadWritePaths = writablePaths;
          # What tar needs to take and restore a volume as its owners left it; nothing else.
          CapabilityBoundingSet = [ "CAP_CHOWN" "CAP_DAC_OVERRIDE" "CAP_DAC_READ_SEARCH" "CAP_FOWNER" "CAP_FSETID" "CAP_MKNOD" "CAP_SETFCAP" ];
        };
      };

      systemd.timers.warm-reconcile = {
        description = "Scheduled warm-reconcile run (nightly and after boot)";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = cfg.schedule;
          RandomizedDelaySec = cfg.randomizedDelaySec;
          Persistent = cfg.persistent;
        }
        // optionalAttrs cfg.runAtBoot { OnBootSec = "5min"; };
      };

      systemd.services.warm-reconcile-notify = {
        description = "warm-reconcile: deliver pending alerts to the configured channels";
        after = [ "network-online.target" ];
        wants = [ "network-online.target" ];
        environment = serviceEnvironment;
        serviceConfig = hardening // stateDirectory // {
          Type = "oneshot";
          # Not while a reconcile runs ("activating"): it delivers its own alerts when it ends.
          ExecCondition = "${pkgs.runtimeShell} -c 'test \"$$(${pkgs.systemd}/bin/systemctl show --property=ActiveState --value warm-reconcile.service)\" != activating'";
          ExecStart = "${cfg.package}/bin/warm-reconcile notify --config ${configFile}";
          TimeoutStartSec = "15min";
          PrivateDevices = true;
          RestrictSUIDSGID = true;
          CapabilityBoundingSet = [ "CAP_DAC_READ_SEARCH" ];
        }
        // optionalAttrs (!stateUnderVarLib) { ReadWritePaths = [ cfg.stateDir ]; };
      };

      systemd.timers.warm-reconcile-notify = {
        description = "Deliver pending warm-reconcile alerts every 15 minutes";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = "*:0/15";
          RandomizedDelaySec = 60;
        };
      };
    }

    (mkIf cfg.runOnActivation {
      # Started by every switch, after the new units are loaded; returns at once.
      systemd.services.warm-reconcile-on-switch = {
        description = "Start a warm-reconcile run after nixos-rebuild switch, without waiting for it";
        wantedBy = [ "sysinit-reactivation.target" ];
        restartIfChanged = false;
        serviceConfig = {
          Type = "oneshot";
          ExecStart = "${pkgs.systemd}/bin/systemctl start --no-block warm-reconcile.service";
        };
      };
    })

    (mkIf (!stateUnderVarLib) {
      systemd.tmpfiles.rules = [ "d ${cfg.stateDir} 0700 root root -" ];
    })
  ]);
}
