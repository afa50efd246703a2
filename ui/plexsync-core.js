// PlexSync in Stash's UI, part 1: talking to the plugin, and what each scene state looks like.
// Plain JavaScript run by Stash's UI (React 17 from PluginApi): no build step, no external URL,
// no eval. Everything goes through Stash's own /graphql with the browser's Stash session, so it
// works when Stash has a login, and the Plex token never reaches the browser: the plugin answers
// with states and Open-in-Plex links that carry none.
(function () {
  "use strict";
  const api = window.PluginApi;
  const PLUGIN_ID = "PlexSync";
  const CACHE_MS = 20000; // badges may be this old; Sync now and Retry drop what they touch
  const BATCH_MS = 40; // cards rendered together are asked for together: one call per page

  // Same origin as the UI, relative to <base href> so a Stash served under a path works too.
  async function graphql(query, variables) {
    const response = await fetch(new URL("graphql", document.baseURI).toString(), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query: query, variables: variables }),
    });
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (body && body.errors && body.errors.length) throw new Error(body.errors[0].message);
    if (!response.ok || !body) throw new Error("Stash answered HTTP " + response.status);
    return body.data;
  }

  // runPluginOperation runs plexsync.py and waits; its `error` arrives as a GraphQL error.
  async function operation(mode, args) {
    const data = await graphql(
      "mutation PlexSyncOperation($args: Map) { runPluginOperation(plugin_id: \"" +
        PLUGIN_ID +
        "\", args: $args) }",
      { args: Object.assign({ mode: mode }, args || {}) }
    );
    return data.runPluginOperation;
  }

  // runPluginTask queues a manifest task as a Stash job (progress bar, job list, cancel).
  function startTask(taskName) {
    return graphql(
      "mutation PlexSyncTask($name: String!) { runPluginTask(plugin_id: \"" +
        PLUGIN_ID +
        "\", task_name: $name) }",
      { name: taskName }
    );
  }

  // What the plugin needs to place a scene without asking Stash again: its files.
  function sceneInput(scene) {
    return {
      id: String(scene.id),
      organized: !!scene.organized,
      files: (scene.files || []).map(function (f) {
        return { path: f.path, size: Number(f.size) || null };
      }),
    };
  }

  // Scene states, batched: every card asking within BATCH_MS shares one operation call.
  const cache = new Map(); // id -> {at, state}
  const listeners = new Map(); // id -> Set of callbacks
  let waiting = new Map(); // id -> scene input
  let timer = null;
  let last = { configured: true };

  function watchState(scene, callback) {
    const id = String(scene.id);
    if (!listeners.has(id)) listeners.set(id, new Set());
    listeners.get(id).add(callback);
    const hit = cache.get(id);
    if (hit && Date.now() - hit.at < CACHE_MS) callback(hit.state, last);
    else requestState(scene);
    return function () {
      listeners.get(id).delete(callback);
    };
  }

  function requestState(scene) {
    waiting.set(String(scene.id), sceneInput(scene));
    if (timer === null) timer = setTimeout(flush, BATCH_MS);
  }

  async function flush() {
    const batch = waiting;
    waiting = new Map();
    timer = null;
    try {
      const answer = await operation("scene_state", { scenes: Array.from(batch.values()) });
      last = answer;
      batch.forEach(function (_, id) {
        const state = answer.states[id] || { state: "unknown" };
        cache.set(id, { at: Date.now(), state: state });
        (listeners.get(id) || []).forEach(function (cb) {
          cb(state, answer);
        });
      });
    } catch (error) {
      batch.forEach(function (_, id) {
        (listeners.get(id) || []).forEach(function (cb) {
          cb(null, last, error);
        });
      });
    }
  }

  function forget(ids) {
    ids.forEach(function (id) {
      cache.delete(String(id));
    });
  }

  // Ask again for one scene (after Sync now or Retry, or while it waits in the queue).
  function refresh(scene) {
    forget([scene.id]);
    requestState(scene);
  }

  // state -> how it reads: label, Bootstrap colour, FontAwesome icon, and the card's badge
  // ("pending" covers queued and retrying; a synced card stays quiet: a small check only).
  const LOOK = {
    synced: { label: "synced", variant: "success", icon: "faCircleCheck", badge: "synced" },
    queued: { label: "queued", variant: "info", icon: "faClock", badge: "pending" },
    retrying: { label: "retrying", variant: "warning", icon: "faRotate", badge: "pending" },
    failed: { label: "failed", variant: "danger", icon: "faTriangleExclamation", badge: "failed" },
    not_in_plex: { label: "not in Plex", variant: "secondary", icon: "faEyeSlash", badge: "not in Plex" },
    ambiguous: { label: "ambiguous", variant: "warning", icon: "faCodeBranch", badge: "not in Plex" },
    excluded: { label: "library not synced", variant: "secondary", icon: "faBan", badge: "not in Plex" },
    not_synced: { label: "not synced yet", variant: "info", icon: "faClock", badge: "pending" },
    skipped: { label: "skipped", variant: "secondary", icon: "faForward", badge: null },
    no_file: { label: "no file", variant: "secondary", icon: "faFile", badge: null },
    unknown: { label: "unknown", variant: "secondary", icon: "faCircleQuestion", badge: null },
  };

  function look(state) {
    return LOOK[state] || LOOK.unknown;
  }

  function icon(name) {
    const solid = api.libraries.FontAwesomeSolid;
    return solid[name] || solid.faCircle;
  }

  function when(seconds) {
    return seconds ? new Date(seconds * 1000).toLocaleString() : "";
  }

  function message(error) {
    return "PlexSync: " + (error && error.message ? error.message : String(error));
  }

  // What stands in the way (the plugin's diagnosis: kind, say, do), with a link to the one
  // place every such problem is fixed: Stash's plugin settings.
  const PROBLEM_VARIANT = { not_configured: "info", plex_unreachable: "warning", path_map_wrong: "warning" };
  const SETTINGS_ROUTE = "/settings?tab=plugins";

  function Problem(props) {
    const h = api.React.createElement;
    const { Link } = api.libraries.ReactRouterDOM;
    const p = props.problem;
    const variant = PROBLEM_VARIANT[p.kind] || "danger";
    return h(
      "div",
      { className: "alert alert-" + variant + " plexsync-problem plexsync-problem-" + p.kind, role: "alert" },
      h("strong", null, p.say),
      " " + p.do + " ",
      h(Link, { className: "alert-link plexsync-settings-link", to: SETTINGS_ROUTE }, "Open the plugin settings")
    );
  }

  // Sync now's answer as one toast: what the worker did with the scene, or why nothing was
  // queued. Returns the scene's state ("queued" when the worker has not tried it yet).
  function sayOutcome(Toast, answer, sceneId) {
    const p = answer.problem;
    const state = (answer.states || {})[String(sceneId)] || { state: "queued" };
    if (p && !answer.queued) {
      Toast.error("PlexSync: " + p.say + " " + p.do);
    } else if (p) {
      Toast.toast({ content: "PlexSync: queued. " + p.say + " " + p.do, variant: "warning", delay: 8000 });
    } else {
      toastState(Toast, state);
    }
    return state.state;
  }

  function toastState(Toast, state) {
    if (state.state === "synced") Toast.success("PlexSync: written to Plex");
    else if (state.state === "failed") Toast.error("PlexSync: not written: " + state.reason);
    else if (state.state === "retrying")
      Toast.toast({
        content: "PlexSync: not written yet: " + state.reason + ". Next try " + when(state.due_at) + ".",
        variant: "warning",
        delay: 8000,
      });
    else if (state.state === "queued")
      Toast.toast({ content: "PlexSync: queued; this tab shows the result when it is written", variant: "info" });
    else Toast.toast({ content: "PlexSync: " + look(state.state).label, variant: "info" });
  }

  window.PlexSyncUI = {
    PLUGIN_ID: PLUGIN_ID,
    ROUTE: "/plugin/plexsync",
    Problem: Problem,
    sayOutcome: sayOutcome,
    toastState: toastState,
    operation: operation,
    startTask: startTask,
    watchState: watchState,
    forget: forget,
    refresh: refresh,
    look: look,
    icon: icon,
    when: when,
    message: message,
  };
})();
