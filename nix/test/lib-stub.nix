# A small stand-in for nixpkgs' `lib`, enough to evaluate nix/module.nix and nix/package.nix
# without nixpkgs (none can be had on the machines the tests run on).
#
# It follows the real module system where the module depends on it: option declarations with
# defaults, definitions merged across modules, `mkIf` / `mkMerge` / `mkOverride` (`mkDefault`,
# `mkForce`) pushed down into attribute sets and discharged at each option, priorities, type
# checks with the real error wording, `attrsOf` dropping names whose definitions all vanished,
# submodules, and an error for a definition of an option nobody declared.
# Not here: freeformType, imports by key, option renaming, documentation rendering.
let
  b = builtins;

  # ---- plain helpers, as in nixpkgs' lib ------------------------------------------------------

  id = x: x;
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  optionalAttrs = cond: as: if cond then as else { };
  optionalString = cond: s: if cond then s else "";
  toList = x: if b.isList x then x else [ x ];
  last = xs: b.elemAt xs (b.length xs - 1);
  unique = b.foldl' (acc: x: if b.elem x acc then acc else acc ++ [ x ]) [ ];
  concatStrings = b.concatStringsSep "";
  concatStringsSep = b.concatStringsSep;
  concatMapStrings = f: xs: concatStrings (map f xs);
  concatMapStringsSep = sep: f: xs: b.concatStringsSep sep (map f xs);
  mapAttrsToList = f: as: map (n: f n as.${n}) (b.attrNames as);
  filterAttrs = pred: as: b.listToAttrs (b.concatMap (n: if pred n as.${n} then [ { name = n; value = as.${n}; } ] else [ ]) (b.attrNames as));
  hasPrefix = pre: s: b.substring 0 (b.stringLength pre) s == pre;
  hasSuffix = suf: s:
    let
      ls = b.stringLength s;
      lf = b.stringLength suf;
    in
    lf <= ls && b.substring (ls - lf) lf s == suf;
  removePrefix = pre: s: if hasPrefix pre s then b.substring (b.stringLength pre) (b.stringLength s) s else s;
  hasInfix = infix: s: b.match ".*${escapeRegex infix}.*" s != null;
  escapeRegex = b.replaceStrings
    [ "\\" "[" "]" "{" "}" "(" ")" "." "*" "+" "?" "^" "$" "|" ]
    [ "\\\\" "\\[" "\\]" "\\{" "\\}" "\\(" "\\)" "\\." "\\*" "\\+" "\\?" "\\^" "\\$" "\\|" ];
  isDerivation = x: b.isAttrs x && x.type or null == "derivation";
  isStringLike = x: b.isString x || b.isPath x || (b.isAttrs x && (x ? outPath || x ? __toString));
  makeBinPath = ps: concatMapStringsSep ":" (p: "${p}/bin") ps;
  makeSearchPathOutput = _output: sub: ps: concatMapStringsSep ":" (p: "${p}/${sub}") ps;
  getExe = drv: "${drv}/bin/${drv.meta.mainProgram or drv.pname or drv.name}";
  importJSON = path: b.fromJSON (b.readFile path);
  attrByPath = path: default: set:
    if path == [ ] then set
    else if b.isAttrs set && set ? ${b.head path} then attrByPath (b.tail path) default set.${b.head path}
    else default;
  mod = base: int: base - (int * (base / int));
  literalExpression = text: { _type = "literalExpression"; inherit text; };

  # ---- module-system properties ---------------------------------------------------------------

  kind = v: if b.isAttrs v then v._type or "" else "";
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOptionDefault = mkOverride 1500;
  mkDefault = mkOverride 1000;
  mkForce = mkOverride 50;

  mkOption = attrs: attrs // { _type = "option"; };
  mkEnableOption = name: mkOption {
    type = types.bool;
    default = false;
    example = true;
    description = "Whether to enable ${name}.";
  };
  isOption = v: kind v == "option";

  showLoc = concatStringsSep ".";
  showValue = v:
    if b.isString v then ''"${v}"''
    else if b.isInt v || b.isFloat v then toString v
    else if b.isBool v then (if v then "true" else "false")
    else if v == null then "null"
    else "<${b.typeOf v}>";

  # `mkIf c { a = x; }` becomes `{ a = mkIf c x; }`, `mkMerge` splits: the attribute names of a
  # definition are known without forcing any condition (what keeps `config = mkIf cfg.enable`
  # free of infinite recursion).
  pushDownProperties = cfg:
    if kind cfg == "merge" then b.concatMap pushDownProperties cfg.contents
    else if kind cfg == "if" then map (b.mapAttrs (_: v: mkIf cfg.condition v)) (pushDownProperties cfg.content)
    else if kind cfg == "override" then map (b.mapAttrs (_: v: mkOverride cfg.priority v)) (pushDownProperties cfg.content)
    else [ cfg ];

  # Removes `mkMerge` and `mkIf` at the top of one definition: a list of values (overrides kept).
  dischargeProperties = def:
    if kind def == "merge" then b.concatMap dischargeProperties def.contents
    else if kind def == "if" then
      if b.isBool def.condition then (if def.condition then dischargeProperties def.content else [ ])
      else throw "`mkIf` called with a non-Boolean condition"
    else [ def ];

  # Keeps only the definitions of the highest priority (lowest number), unwrapped.
  filterOverrides = defs:
    let
      prio = d: if kind d.value == "override" then d.value.priority else 100;
      best = b.foldl' (p: d: if prio d < p then prio d else p) 9999 defs;
      strip = v: if kind v == "override" then strip v.content else v;
    in
    b.concatMap
      (d: if prio d == best then map (v: d // { value = v; }) (dischargeProperties (strip d.value)) else [ ])
      defs;

  # Merges the definitions of one option: { isDefined, value }.
  mergeDefinitions = loc: type: defs:
    let
      discharged = b.concatMap (d: map (v: d // { value = v; }) (dischargeProperties d.value)) defs;
      kept = filterOverrides discharged;
      checked = map
        (d:
          if type.check d.value then d
          else
            throw "A definition for option `${showLoc loc}' is not of type `${type.description}'. Definition value: ${showValue d.value} (in ${d.file})")
        kept;
    in
    if kept == [ ] then {
      isDefined = false;
      value = throw "The option `${showLoc loc}' is used but not defined.";
    } else {
      isDefined = true;
      value = type.merge loc checked;
    };

  mergeEqualOption = loc: defs:
    let first = b.head defs;
    in b.foldl'
      (acc: d:
        if d.value == acc then acc
        else throw "The option `${showLoc loc}' has conflicting definition values: ${showValue first.value} (in ${first.file}) and ${showValue d.value} (in ${d.file}).")
      first.value
      (b.tail defs);

  # ---- types ----------------------------------------------------------------------------------

  mkOptionType = { name, description ? name, check ? (_: true), merge ? mergeEqualOption, ... }@attrs:
    attrs // { _type = "option-type"; inherit name description check merge; };

  types = rec {
    inherit mkOptionType;
    unspecified = mkOptionType { name = "unspecified"; };
    anything = mkOptionType {
      name = "anything";
      merge = loc: defs:
        if b.all (d: b.isAttrs d.value && !isDerivation d.value) defs then (attrsOf anything).merge loc defs
        else if b.all (d: b.isList d.value) defs then b.concatMap (d: d.value) defs
        else mergeEqualOption loc defs;
    };
    raw = mkOptionType { name = "raw"; };
    bool = mkOptionType { name = "bool"; description = "boolean"; check = b.isBool; };
    int = mkOptionType { name = "int"; description = "signed integer"; check = b.isInt; };
    float = mkOptionType { name = "float"; description = "floating point number"; check = b.isFloat; };
    str = mkOptionType { name = "str"; description = "string"; check = b.isString; };
    nonEmptyStr = mkOptionType {
      name = "nonEmptyStr";
      description = "non-empty string";
      check = x: b.isString x && b.match "[[:space:]]*" x == null;
    };
    lines = mkOptionType {
      name = "lines";
      description = "strings concatenated with \"\\n\"";
      check = b.isString;
      merge = _loc: defs: concatStringsSep "\n" (map (d: d.value) defs);
    };
    strMatching = pattern: mkOptionType {
      name = "strMatching ${showValue pattern}";
      description = "string matching the pattern ${pattern}";
      check = x: b.isString x && b.match pattern x != null;
    };
    path = mkOptionType {
      name = "path";
      description = "absolute path";
      check = x: isStringLike x && b.substring 0 1 (toString x) == "/";
    };
    package = mkOptionType {
      name = "package";
      check = x: isDerivation x || (b.isString x && hasPrefix "/nix/store/" x);
    };
    ints = {
      between = lo: hi: mkOptionType {
        name = "intBetween";
        description = "integer between ${toString lo} and ${toString hi} (both inclusive)";
        check = x: b.isInt x && x >= lo && x <= hi;
      };
      unsigned = mkOptionType {
        name = "unsignedInt";
        description = "unsigned integer, meaning >=0";
        check = x: b.isInt x && x >= 0;
      };
      positive = mkOptionType {
        name = "positiveInt";
        description = "positive integer, meaning >0";
        check = x: b.isInt x && x > 0;
      };
    };
    enum = values: mkOptionType {
      name = "enum";
      description = "one of ${concatMapStringsSep ", " showValue values}";
      check = x: b.elem x values;
    };
    nullOr = elemType: mkOptionType {
      name = "nullOr";
      description = "null or ${elemType.description}";
      check = x: x == null || elemType.check x;
      merge = loc: defs:
        if b.all (d: d.value == null) defs then null
        else if b.any (d: d.value == null) defs then mergeEqualOption loc defs
        else elemType.merge loc defs;
    };
    listOf = elemType: mkOptionType {
      name = "listOf";
      description = "list of ${elemType.description}";
      check = b.isList;
      merge = loc: defs:
        b.concatMap
          (d: map
            (v: (mergeDefinitions (loc ++ [ "[entry]" ]) elemType [ (d // { value = v; }) ]).value)
            d.value)
          defs;
    };
    attrsOf = elemType: mkOptionType {
      name = "attrsOf";
      description = "attribute set of ${elemType.description}";
      check = b.isAttrs;
      merge = loc: defs:
        let
          perName = b.zipAttrsWith (_: ds: ds)
            (b.concatMap (d: map (as: b.mapAttrs (_: v: d // { value = v; }) as) (pushDownProperties d.value)) defs);
          merged = b.mapAttrs (n: ds: mergeDefinitions (loc ++ [ n ]) elemType ds) perName;
        in
        b.mapAttrs (_: r: r.value) (filterAttrs (_: r: r.isDefined) merged);
    };
    lazyAttrsOf = attrsOf;
    attrs = mkOptionType {
      name = "attrs";
      description = "attribute set";
      check = b.isAttrs;
      merge = _loc: defs: b.foldl' (acc: d: acc // d.value) { } defs;
    };
    either = t1: t2: mkOptionType {
      name = "either";
      description = "${t1.description} or ${t2.description}";
      check = x: t1.check x || t2.check x;
      merge = loc: defs:
        if b.all (d: t1.check d.value) defs then t1.merge loc defs
        else if b.all (d: t2.check d.value) defs then t2.merge loc defs
        else mergeEqualOption loc defs;
    };
    oneOf = ts: b.foldl' either (b.head ts) (b.tail ts);
    submodule = modules: mkOptionType {
      name = "submodule";
      description = "submodule";
      check = x: b.isAttrs x || b.isFunction x;
      merge = loc: defs:
        (evalModules {
          modules = toList modules ++ map (d: { _file = d.file; config = d.value; }) defs;
          specialArgs = { name = last loc; };
          prefix = loc;
        }).config;
    };
  };

  # ---- evalModules ----------------------------------------------------------------------------

  evalModules = { modules, specialArgs ? { }, prefix ? [ ] }:
    let
      args = { inherit lib config options; } // specialArgs;

      apply = f:
        let formals = b.functionArgs f;
        in f (if formals == { } then args else b.intersectAttrs formals args);

      # Each module as { file, options, config, imports }, imports followed.
      load = file: m:
        if b.isPath m || b.isString m then load (toString m) (import m)
        else if b.isFunction m then load file (apply m)
        else
          let
            structured = m ? options || m ? config || m ? imports;
            file' = m._file or file;
          in
          [{
            file = file';
            options = m.options or { };
            config = if structured then m.config or { } else removeAttrs m [ "_file" "imports" "meta" ];
          }]
          ++ b.concatMap (load file') (m.imports or [ ]);

      loaded = b.concatMap (load "<unknown-file>") modules;

      mergeDecls = x: y:
        b.zipAttrsWith
          (n: vs:
            if b.length vs == 1 then b.head vs
            else if b.any isOption vs then throw "The option `${n}' is declared more than once."
            else b.foldl' mergeDecls { } vs)
          [ x y ];
      options = b.foldl' mergeDecls { } (map (m: m.options) loaded);

      evalTree = loc: decls: defs:
        let
          pushed = b.concatMap (d: map (v: d // { value = v; }) (pushDownProperties d.value)) defs;
          undeclared = b.filter (n: !(decls ? ${n})) (unique (b.concatMap (d: b.attrNames d.value) pushed));
          at = n: b.concatMap (d: if d.value ? ${n} then [ (d // { value = d.value.${n}; }) ] else [ ]) pushed;
          one = n: decl:
            if isOption decl then
              let
                withDefault = at n ++ optional (decl ? default) { file = "default of ${showLoc (loc ++ [ n ])}"; value = mkOptionDefault decl.default; };
              in
              (mergeDefinitions (loc ++ [ n ]) (decl.type or types.unspecified) withDefault).value
            else evalTree (loc ++ [ n ]) decl (at n);
        in
        if undeclared != [ ] then
          throw "The option `${showLoc (loc ++ [ (b.head undeclared) ])}' does not exist. Definition in ${
            (b.head (b.filter (d: d.value ? ${b.head undeclared}) pushed)).file}."
        else b.mapAttrs one decls;

      config = evalTree prefix options (map (m: { inherit (m) file; value = m.config; }) loaded);
    in
    { inherit config options; };

  lib = {
    inherit id optional optionals optionalAttrs optionalString toList last unique concatStrings
      concatStringsSep concatMapStrings concatMapStringsSep mapAttrsToList filterAttrs hasPrefix
      hasSuffix removePrefix hasInfix attrByPath mod isDerivation isStringLike makeBinPath makeSearchPathOutput getExe
      importJSON literalExpression mkIf mkMerge mkOverride mkOptionDefault mkDefault mkForce mkOption
      mkEnableOption mkOptionType types evalModules pushDownProperties dischargeProperties
      filterOverrides mergeDefinitions mergeEqualOption;
    inherit (b) attrNames attrValues mapAttrs elem all any filter length head tail toJSON;
    fakeHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    licenses.agpl3Plus = { spdxId = "AGPL-3.0-or-later"; shortName = "agpl3Plus"; };
    platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
    # Only the two calls nix/package.nix makes: the source is the listed files under `root`.
    fileset = {
      unions = paths: paths;
      toSource = { root, fileset }: {
        outPath = "/nix/store/00000000000000000000000000000000-source";
        files = map (p: removePrefix "${toString root}/" (toString p)) fileset;
      };
    };
  };
in
lib
