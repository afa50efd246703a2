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
    const waitingFor = found.state && found.state.state === "queued";
    React.useEffect(
      function () {
        if (!waitingFor) return undefined;
        const poll = setTimeout(function () {
          ui.refresh(props.scene);
        }, 2000); // the worker usually finishes within seconds: show it when it has
        return function () {
          clearTimeout(poll);
        };
      },
      [found.state]
    );

    async function act(mode, args, done) {
      setBusy(true);
      try {
        const result = await ui.operation(mode, args);
        Toast.success(done(result));
        ui.refresh(props.scene);
      } catch (error) {
        Toast.error(ui.message(error));
      } finally {
        setBusy(false);
      }
    }

    if (found.answer && !found.answer.configured)
      return h("div", { className: "plexsync-panel text-muted" }, found.answer.message || ui.NOT_CONFIGURED);
    if (!found.state)
      return h("div", { className: "plexsync-panel text-muted" }, found.error ? "Plex state unavailable" : "Loading…");
    const state = found.state;
    const look = ui.look(state.state);
    const syncNow = h(
      Button,
      {
        key: "sync",
        variant: "secondary",
        className: "plexsync-sync-now mr-2 mb-2",
        disabled: busy,
        onClick: function () {
          act("sync_scenes", { scene_ids: [String(props.scene.id)] }, function () {
            return "PlexSync: scene queued; Plex shows it in a moment";
          });
        },
      },
      h(Icon, { icon: ui.icon("faRotate") }),
      " Sync now"
    );
    const retry =
      state.state === "failed" &&
      h(
        Button,
        {
          key: "retry",
          variant: "danger",
          className: "plexsync-retry mr-2 mb-2",
          disabled: busy,
          onClick: function () {
            act("retry_failed", { keys: [state.key] }, function () {
              return "PlexSync: back in the queue";
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
      details(state),
      h("div", { className: "plexsync-actions" }, links(state), syncNow, retry)
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
