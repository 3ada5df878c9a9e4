# NixOS module: services.warm-reconcile.
#
#   imports = [ ./nix/module.nix ];
#   services.warm-reconcile = {
#     enable = true;
#     settings.abraDir = "/root/.abra";
#     apps.keycloak = { recipe = "keycloak"; domain = "id.example.org"; upgrade = "minor"; };
#   };
#
# One oneshot unit, warm-reconcile.service, runs `warm-reconcile reconcile --all`; everything
# that starts a run starts that same unit, so systemd never runs two reconciles at once (a start
# request while one runs joins it). What starts it:
#
#   runAtBoot runOnActivation  how
#   true      true             wantedBy multi-user.target. switch-to-configuration starts every
#                              active target again on each `nixos-rebuild switch`, and starting
#                              multi-user.target starts the wanted oneshot, which is inactive
#                              between runs: one mechanism gives a run at boot and on every switch
#                              (changed or not: an unchanged, healthy app is a no-op).
#   true      false            the timer also gets OnBootSec=2min: boot only (plus the random
#                              delay; and a timer whose unit changed is restarted on switch,
#                              which fires an OnBootSec that lies in the past at once).
#   false     true             wantedBy sysinit-reactivation.target, which NixOS (24.05+) restarts
#                              on every switch and which is not reached at boot.
#   false     false            the timer only.
#   and always                 the timer: OnCalendar = schedule, RandomizedDelaySec, Persistent.
#
# restartIfChanged = false: a switch never stops a reconcile that is running (stopping it means
# rolling an upgrade back halfway); the new unit takes effect from the next run.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkDefault mkEnableOption mkIf mkMerge mkOption optional optionalAttrs types;

  cfg = config.services.warm-reconcile;
  json = pkgs.formats.json { };
  configFile = json.generate "warm-reconcile.json" cfg.settings;

  # Under /var/lib systemd creates and owns the directory (StateDirectory=); elsewhere tmpfiles does.
  stateUnderVarLib = lib.hasPrefix "/var/lib/" cfg.stateDir;

  # As src/domain/Config.ts AppName: app names become file names under the state directory.
  validAppName = name: builtins.match "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}" name != null && !(lib.hasInfix ".." name);
  appNames = builtins.attrNames (cfg.settings.apps or { });
  badAppNames = builtins.filter (n: !validAppName n) appNames;
  appsMissing = key: builtins.filter (n: !(builtins.isString (cfg.settings.apps.${n}.${key} or null))) appNames;
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
        The JSON config file, as documented in the README (`stateDir`, `abraDir`, `apps`). The
        module sets `stateDir` from `services.warm-reconcile.stateDir` and `apps` from
        `services.warm-reconcile.apps`. Unknown keys are rejected by warm-reconcile (exit 2).
      '';
    };

    apps = mkOption {
      type = types.attrsOf json.type;
      default = { };
      example = {
        keycloak = {
          recipe = "keycloak";
          domain = "id.example.org";
          upgrade = "minor";
          health = { path = "/realms/master"; timeout = "15 minutes"; };
        };
      };
      description = "The apps to reconcile, by name: merged into `settings.apps`.";
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
      default = true;
      description = "Run at the next boot when the machine was off at the scheduled time (Persistent=).";
    };

    runAtBoot = mkOption {
      type = types.bool;
      default = true;
      description = "Run once at boot, after Docker and the network are up.";
    };

    runOnActivation = mkOption {
      type = types.bool;
      default = true;
      description = "Run on every `nixos-rebuild switch`, so that a changed app list takes effect at once.";
    };

    stopTimeout = mkOption {
      type = types.str;
      default = "30min";
      description = ''
        How long a stop (shutdown, `systemctl stop`) waits after SIGTERM (TimeoutStopSec=). The
        program answers SIGTERM by rolling an upgrade in progress back: undeploy, restore the
        volume snapshot, redeploy last-good and check its health. Too short, and SIGKILL lands in
        the middle of a restore. Raise it when an app's volumes take long to restore or its
        deployTimeout/health timeout are long.
      '';
    };
  };

  config = mkIf cfg.enable (mkMerge [
    {
      services.warm-reconcile.settings = {
        inherit (cfg) stateDir apps;
      };

      assertions = [
        {
          assertion = cfg.abraPackage != null;
          message = "services.warm-reconcile.abraPackage is null: set it to an abra build (nixpkgs has none, or an old one); the service runs `abra` from its PATH.";
        }
        {
          assertion = badAppNames == [ ];
          message = "services.warm-reconcile.apps: bad app name(s) ${builtins.toJSON badAppNames}: an app name is letters, digits, '.', '_' or '-', starts with a letter or digit, and holds no '..'.";
        }
        {
          assertion = appsMissing "recipe" == [ ] && appsMissing "domain" == [ ];
          message = "services.warm-reconcile.apps: every app needs a string `recipe` and `domain`; missing in ${builtins.toJSON (lib.unique (appsMissing "recipe" ++ appsMissing "domain"))}.";
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
        wantedBy =
          optional cfg.runOnActivation (if cfg.runAtBoot then "multi-user.target" else "sysinit-reactivation.target");
        restartIfChanged = false;
        # abra and git for recipes and deploys, GNU tar for volume snapshots.
        path = builtins.filter (p: p != null) [ cfg.abraPackage pkgs.git pkgs.gnutar ] ++ cfg.path;
        # abra (Go) wants a home directory for its Docker contexts; root's, as on any abra server.
        environment = mkMerge [ { HOME = mkDefault "/root"; } cfg.environment ];

        serviceConfig = {
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
          TimeoutStopSec = cfg.stopTimeout;

          # Hardening that leaves the job able to do its work as root: talk to
          # /run/docker.sock, read and restore /var/lib/docker/volumes (owners, modes, setuid bits
          # included: hence no RestrictSUIDSGID, no PrivateDevices, no syscall filter), write the
          # abra directory under /root (hence no ProtectHome) and the state directory. No
          # PrivateTmp: a path under a private /tmp means nothing to dockerd. No
          # MemoryDenyWriteExecute: Node's JIT needs it. Access to the Docker socket is root
          # anyway; these keep mistakes, not attackers, away from the rest of the system.
          ProtectSystem = "full";
          NoNewPrivileges = true;
          ProtectKernelTunables = true;
          ProtectKernelModules = true;
          ProtectKernelLogs = true;
          ProtectControlGroups = true;
          ProtectClock = true;
          ProtectHostname = true;
          RestrictRealtime = true;
          RestrictNamespaces = true;
          LockPersonality = true;
          SystemCallArchitectures = "native";
          # Unix for the Docker socket, IP for health probes and git/abra, netlink for Go's and
          # glibc's interface lookups.
          RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" "AF_NETLINK" ];
        }
        // optionalAttrs stateUnderVarLib {
          StateDirectory = lib.removePrefix "/var/lib/" cfg.stateDir;
          StateDirectoryMode = "0700";
        }
        // optionalAttrs (!stateUnderVarLib) { ReadWritePaths = [ cfg.stateDir ]; };
      };

      systemd.timers.warm-reconcile = {
        description = "Scheduled warm-reconcile run";
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnCalendar = cfg.schedule;
          RandomizedDelaySec = cfg.randomizedDelaySec;
          Persistent = cfg.persistent;
        }
        // optionalAttrs (cfg.runAtBoot && !cfg.runOnActivation) { OnBootSec = "2min"; };
      };
    }

    (mkIf (!stateUnderVarLib) {
      systemd.tmpfiles.rules = [ "d ${cfg.stateDir} 0700 root root -" ];
    })
  ]);
}
