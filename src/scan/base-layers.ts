/**
 * Which layers of an image come from its base image (for `pushgate scan --exclude-base`, docker scan's
 * flag), and how that was decided. Everything an image says about its base (annotations, labels,
 * history) is written by the image's author, so each method is checked against the layers the
 * manifest actually lists, and the developer's own Dockerfile outranks all of it:
 *
 * 1. `dockerfile` (`--file Dockerfile`): the instructions after the `FROM` that names the final
 *    stage's base image (through `FROM <stage>` chains; dockerfile-base.ts) each add one history entry
 *    to the image (BuildKit and the classic builder both commit every instruction to
 *    history, empty or not); the history entries before the last N are the base's. The entries are
 *    checked against the instructions' keywords where `created_by` names one, and the non-empty
 *    entries must be exactly one per layer; otherwise the method is refused (the Dockerfile is not
 *    the one the image was built from) and, the developer having named the file, no other is tried.
 * 2. `annotation`: the manifest's `org.opencontainers.image.base.digest` (image-spec annotations.md; or
 *    the same config label) names a base manifest that the same source holds; that base's diff_ids
 *    must be an exact prefix of the image's diff_ids, which are then the base layers.
 * 3. `history`: trivy's guess (config-checks.ts baseFromHistory): the base's last instruction is the
 *    last empty `CMD` entry above this image's own layers; refused unless the history's non-empty
 *    entries are exactly one per layer.
 *
 * No method makes every layer the base's: the image's own top layer is never excluded, and an
 * attribution that would cover all layers is refused with its reason in the note.
 * Base layers are named by diffID (the blob digest when the config lists none), lowest first, as
 * packages and findings name their layer.
 */
import type { Digest } from '../core/index.js';
import { baseFromHistory, historyLayerCount, type HistoryEntry } from './config-checks.js';
import { resolveDockerfileBase, type DockerfileBase, type ResolveOptions } from './dockerfile-base.js';

/** How the base layers were found. */
export type BaseMethod = 'annotation' | 'dockerfile' | 'history' | 'none';

/** The base layers of one image manifest and how they were decided. */
export interface BaseAttribution {
  method: BaseMethod;
  /** diffIDs (else blob digests) of the base's layers, lowest first; empty when unknown. */
  layers: Digest[];
  /** One sentence for the report: the method, the base's name when known, and the layer count. */
  note: string;
}

/** Dockerfile instructions (Dockerfile reference), upper case. */
const KEYWORDS = new Set(['ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR']);

/**
 * The final build stage of a Dockerfile: its base image and the instructions that follow the base's
 * `FROM` (those of every stage on the chain `FROM a AS b … FROM b`, each adding one history entry).
 */
export interface FinalStage {
  /** The base reference after ARG substitution (`lab/debian:12`), or `scratch`. */
  from: string;
  /** 1-based line of the `FROM` that names the base image. */
  fromLine: number;
  /** Keywords of the instructions after it, in order (each adds one history entry). */
  keywords: string[];
  /** The whole resolution (stage chain, platform, `latest`/untagged flags) for base detection. */
  base?: DockerfileBase;
}

/**
 * Parses a Dockerfile (dockerfile-ast, the parser of the Dockerfile language server) and returns its
 * final stage, resolved as BuildKit resolves it (dockerfile-base.ts: global ARGs with `--build-arg`
 * values, stage names, `--platform`, `--target`). Global `ARG`s before the first `FROM` belong to no
 * stage and add no history.
 * @throws PushgateError BAD_ARGUMENT when the Dockerfile has no `FROM`, or its base depends on a value
 *   not given or could be read two ways (the message names the line and what to pass).
 */
export function finalStage(text: string, opts: ResolveOptions = {}): FinalStage {
  const base = resolveDockerfileBase(text, opts);
  return { from: base.reference, fromLine: base.line, keywords: base.keywords, base };
}

/**
 * The Dockerfile keyword a history entry's `created_by` names, when it names one: BuildKit writes
 * `RUN /bin/sh -c …`, `COPY … # buildkit`, `ENV A=b`; the classic builder `/bin/sh -c #(nop)  CMD […]`
 * for metadata and `/bin/sh -c CMD` for RUN.
 */
export function historyKeyword(createdBy: string | undefined): string | undefined {
  const s = (createdBy ?? '').trim();
  const nop = /#\(nop\)\s+([A-Z]+)\b/.exec(s);
  if (nop && KEYWORDS.has(nop[1])) return nop[1];
  const first = /^([A-Z]+)\b/.exec(s);
  if (first && KEYWORDS.has(first[1])) return first[1];
  if (/^\/bin\/sh -c /.test(s) || /^\|\d+ /.test(s)) return 'RUN';
  return undefined;
}

/** What {@link attributeBase} is told about one image manifest. */
export interface BaseInput {
  history?: HistoryEntry[];
  /** The manifest's layers with their diffIDs (from the config), lowest first. */
  layers: Array<{ digest: Digest; diffID?: Digest }>;
  /** Manifest annotations merged over config labels: `org.opencontainers.image.base.name` / `.digest`. */
  annotations?: Record<string, string>;
  /** The final stage of `--file Dockerfile`, with the file's name for the note. */
  dockerfile?: { file: string; stage: FinalStage };
  /** The diff_ids of the annotated base manifest, when the source holds it (method 1). */
  baseDiffIds?: Digest[];
}

/** Layers 0..n-1 by diffID (else digest). */
function firstLayers(input: BaseInput, n: number): Digest[] {
  return input.layers.slice(0, n).map((l) => l.diffID ?? l.digest);
}

/**
 * Decides the base layers of one image manifest (see the module comment for the methods). Never
 * throws: a method that cannot be used says why in the note. With a Dockerfile only the Dockerfile
 * decides (the developer's own file, where annotations, labels and history are the image author's);
 * without one, annotation then history. No method may make every layer the base's.
 */
export function attributeBase(input: BaseInput): BaseAttribution {
  const name = input.annotations?.['org.opencontainers.image.base.name'];
  const bd = input.annotations?.['org.opencontainers.image.base.digest'];
  const named = name || bd ? `base image ${name ?? '(unnamed)'}${bd ? `@${bd}` : ''} (annotations)` : '';
  const total = input.layers.length;
  const history = input.history ?? [];
  const why: string[] = [];
  const none = (hint: string): BaseAttribution => ({ method: 'none', layers: [], note: `${named ? `${named}; ` : ''}no layer could be attributed to a base image, nothing was excluded: ${why.join('; ')}${hint}` });
  if (input.dockerfile) {
    const { file, stage } = input.dockerfile;
    const n = stage.keywords.length;
    const claimed = historyLayerCount(history);
    if (!history.length) why.push(`${file}: the image config has no history to count the final stage's ${n} instruction(s) in`);
    else if (n > history.length) why.push(`${file}: the final stage has ${n} instructions, the image history only ${history.length} entries`);
    else if (claimed !== total) why.push(`${file}: the image history lists ${claimed} non-empty entries but the manifest has ${total} layer(s), so the history does not describe these layers`);
    else {
      const own = history.slice(history.length - n);
      const mismatch = own.findIndex((h, i) => {
        const k = historyKeyword(h.created_by);
        return k !== undefined && k !== stage.keywords[i] && !(k === 'ADD' && stage.keywords[i] === 'COPY') && !(k === 'COPY' && stage.keywords[i] === 'ADD');
      });
      if (mismatch >= 0) {
        why.push(`${file}: instruction ${mismatch + 1} after FROM is ${stage.keywords[mismatch]} but the matching history entry is ${historyKeyword(own[mismatch].created_by)}; the image was not built from this Dockerfile`);
      } else {
        const base = history.slice(0, history.length - n).filter((h) => !h.empty_layer).length;
        if (base >= total) why.push(`${file}: the final stage's ${n} instruction(s) add no layer, so all ${total} layer(s) would be the base's; the image was not built from this Dockerfile, or it is a base image itself`);
        else {
          return { method: 'dockerfile', layers: firstLayers(input, base), note: `${named ? `${named}; ` : ''}base ${stage.from} (${file}:${stage.fromLine}): the final stage's ${n} instruction(s) are the last ${n} history entries, so the first ${base} of ${total} layer(s) are the base's (method: dockerfile)` };
        }
      }
    }
    // The developer named the Dockerfile: what the image says about its base is not asked instead.
    return none('; the image\'s own annotations and history are not used when --file is given');
  }
  if (input.baseDiffIds?.length) {
    const ids = input.layers.map((l) => l.diffID);
    const prefix = input.baseDiffIds.every((d, i) => ids[i] === d);
    if (!prefix || input.baseDiffIds.length > total) why.push('the annotated base manifest\'s layers are not the first layers of this image');
    else if (input.baseDiffIds.length === total) why.push(`the annotated base manifest has all ${total} layer(s) of this image, leaving the image no layer of its own`);
    else {
      return { method: 'annotation', layers: firstLayers(input, input.baseDiffIds.length), note: `${named}: its ${input.baseDiffIds.length} layer(s) are the first of this image (method: annotation, the base manifest was read from the same source)` };
    }
  }
  const guess = baseFromHistory(history, total);
  if ('count' in guess) {
    return { method: 'history', layers: firstLayers(input, guess.count), note: `${named ? `${named}; ` : ''}the first ${guess.count} of ${total} layer(s) are the base's, guessed from the image history (the base's last CMD entry; method: history)${why.length ? `; ${why.join('; ')}` : ''}` };
  }
  why.push(guess.refused);
  return none('; give --file Dockerfile');
}
