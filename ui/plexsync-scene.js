// PlexSync in Stash's UI, part 2: the badge on every scene card and the Plex tab of a scene.
(function () {
  "use strict";
  const api = window.PluginApi;
  const ui = window.PlexSyncUI;
  const React = api.React;
  const h = React.createElement;

  function useSceneState(scene) {
    const [found, setFound] = React.useState({ state: null, answer: null, error: null });
    React.useEffect(
      function () {
        return ui.watchState(scene, function (state, answer, error) {
          setFound({ state: state, answer: answer, error: error || null });
        });
      },
      [scene.id]
    );
    return found;
  }

  // The card never waits for this: it renders at once and the badge appears when the batch
  // answers. Errors stay off the cards (a page of 40 toasts helps nobody); the tab shows them.
  function PlexBadge(props) {
    const { Icon } = api.components;
    const found = useSceneState(props.scene);
    if (!found.state || !found.answer || !found.answer.configured) return null;
    const look = ui.look(found.state.state);
    if (!look.badge) return null;
    return h(
      "span",
      {
        className: "plexsync-badge plexsync-badge-" + found.state.state + " badge badge-" + look.variant,
        title: "Plex: " + look.label + (found.state.reason ? " — " + found.state.reason : ""),
      },
      h(Icon, { icon: ui.icon(look.icon) }),
      look.badge === "synced" ? null : h("span", { className: "plexsync-badge-text" }, look.badge)
    );
  }

  function details(state) {
    const rows = [];
    const add = function (label, value) {
      if (value) rows.push(h("dt", { key: label + "t" }, label), h("dd", { key: label }, value));
    };
    add("Synced", ui.when(state.at && state.state === "synced" ? state.at : null));
    add("Failed", state.state === "failed" ? ui.when(state.at) : null);
    add("Next try", ui.when(state.due_at));
    add("Why", state.reason);
    add("Attempts", state.attempts ? String(state.attempts) : null);
    add("Queued by", state.by);
    add("Library", state.library ? state.library + " (not one PlexSync syncs)" : null);
    add("Looked for", (state.looked_for || []).join(", "));
    add("Closest in Plex", (state.closest || []).join(", ") || (state.looked_for ? "no file of that name" : null));
    add("Candidates", (state.candidates || []).join(", "));
    return h("dl", { className: "plexsync-details" }, rows);
  }

  function links(state) {
    return (state.items || []).map(function (item) {
      return h(
        "a",
        {
          key: item.rating_key,
          className: "btn btn-primary plexsync-open mr-2 mb-2",
          href: item.url,
          target: "_blank",
          rel: "noopener noreferrer",
        },
        "Open in Plex (item " + item.rating_key + ")"
      );
    });
  }

  // Milliseconds until a retry falls due (and a moment for the worker to write it); null for
  // one long overdue: no worker is running to try it (the next hook or task starts one).
  function dueIn(dueAt) {
    const wait = (dueAt || 0) * 1000 - Date.now() + 1500;
    return wait < -60000 ? null : Math.max(2000, wait);
  }

  function PlexPanel(props) {
    const { Button } = api.libraries.Bootstrap;
    const { Icon } = api.components;
    const Toast = api.hooks.useToast();
    const found = useSceneState(props.scene);
    const [busy, setBusy] = React.useState(false);
    React.useEffect(
      function () {
        if (found.error) Toast.error(ui.message(found.error));
      },
      [found.error]
    );
    // Keep the tab current while something is pending: a queued or in-flight sync is asked
    // about every 2 s, a waiting retry when it falls due; nothing else is polled.
    const state = found.state && found.state.state;
    React.useEffect(
      function () {
        const wait = state === "queued" ? 2000 : state === "retrying" ? dueIn(found.state.due_at) : null;
        if (wait === null) return undefined;
        const poll = setTimeout(function () {
          ui.refresh(props.scene);
        }, wait);
        return function () {
          clearTimeout(poll);
        };
      },
      [found.state]
    );
    // A Sync now the worker had not reached when it answered: say the result once it is known.
    const awaiting = React.useRef(false);
    React.useEffect(
      function () {
        if (awaiting.current && state && state !== "queued") {
          awaiting.current = false;
          ui.toastState(Toast, found.state);
        }
      },
      [found.state]
    );

    async function act(mode, args, done) {
      setBusy(true);
      try {
        const result = await ui.operation(mode, args);
        done(result);
        ui.refresh(props.scene);
      } catch (error) {
        Toast.error(ui.message(error));
      } finally {
        setBusy(false);
      }
    }

    if (found.answer && found.answer.problem)
      return h("div", { className: "plexsync-panel" }, h(ui.Problem, { problem: found.answer.problem }));
    if (!found.state)
      return h("div", { className: "plexsync-panel text-muted" }, found.error ? "Plex state unavailable" : "Loading…");
    const look = ui.look(state);
    const syncNow = h(
      Button,
      {
        key: "sync",
        variant: "secondary",
        className: "plexsync-sync-now mr-2 mb-2",
        disabled: busy,
        onClick: function () {
          act("sync_scenes", { scene_ids: [String(props.scene.id)] }, function (answer) {
            awaiting.current = ui.sayOutcome(Toast, answer, props.scene.id) === "queued";
          });
        },
      },
      h(Icon, { icon: ui.icon("faRotate") }),
      " Sync now"
    );
    const retry =
      state === "failed" &&
      h(
        Button,
        {
          key: "retry",
          variant: "danger",
          className: "plexsync-retry mr-2 mb-2",
          disabled: busy,
          onClick: function () {
            act("retry_failed", { keys: [found.state.key] }, function () {
              awaiting.current = true;
              Toast.success("PlexSync: back in the queue");
            });
          },
        },
        "Retry"
      );
    return h(
      "div",
      { className: "plexsync-panel" },
      h(
        "h5",
        null,
        "Plex: ",
        h("span", { className: "plexsync-state badge badge-" + look.variant }, h(Icon, { icon: ui.icon(look.icon) }), " ", look.label)
      ),
      details(found.state),
      h("div", { className: "plexsync-actions" }, links(found.state), syncNow, retry)
    );
  }

  // Cards: after the original overlays (the original render is the LAST argument).
  api.patch.after("SceneCard.Overlays", function () {
    const props = arguments[0];
    const original = arguments[arguments.length - 1];
    if (!props || !props.scene) return original;
    return h(React.Fragment, null, original, h(PlexBadge, { scene: props.scene }));
  });

  // A tab of its own rather than lines in the Details panel: the panel has actions (Sync now,
  // Retry, Open in Plex) and, for a scene that is not in Plex, paths and near-misses that
  // would crowd Stash's own details; Stash puts other per-scene data sources (File Info,
  // History) in tabs too, and a tab's content is only looked at when the user asks.
  api.patch.before("ScenePage.Tabs", function (props) {
    const { Nav } = api.libraries.Bootstrap;
    const tab = h(Nav.Item, { key: "plexsync" }, h(Nav.Link, { eventKey: "plexsync-panel" }, "Plex"));
    return [Object.assign({}, props, { children: h(React.Fragment, null, props.children, tab) })];
  });

  api.patch.before("ScenePage.TabContent", function (props) {
    const { Tab } = api.libraries.Bootstrap;
    const pane = h(
      Tab.Pane,
      { key: "plexsync", eventKey: "plexsync-panel", mountOnEnter: true },
      h(PlexPanel, { scene: props.scene })
    );
    return [Object.assign({}, props, { children: h(React.Fragment, null, props.children, pane) })];
  });
})();
