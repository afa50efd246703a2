// PlexSync in Stash's UI: the first run, shown by the PlexSync page (part 3) until Plex is configured.
// to enter at plex.tv/link), choose the server, the libraries, the path map PlexSync found, a
// preview, then Sync all. Every step is one plugin operation (entry/connect.py, discover.py,
// preview.py); no token ever reaches the browser: the plugin keeps the server's own token in
// its data folder and answers with names, addresses and counts only.
(function () {
  "use strict";
  const api = window.PluginApi;
  const ui = window.PlexSyncUI;
  const React = api.React;
  const h = React.createElement;
  const POLL_MS = 2000; // each poll starts plexsync.py once; plex.tv's own clients ask every 1 s
  const SYNC_ALL = "Sync all scenes to Plex"; // the task's name in PlexSync.yml

  function button(label, className, onClick, variant, disabled) {
    const { Button } = api.libraries.Bootstrap;
    const props = { size: "sm", variant: variant || "primary", className: className + " mr-2", onClick: onClick, disabled: !!disabled };
    return h(Button, props, label);
  }

  function Problem(props) {
    if (!props.error) return null;
    return h("div", { className: "alert alert-warning plexsync-connect-error" }, ui.message(props.error), props.children);
  }

  // Step 1 and 2: the code, and waiting for it to be linked.
  function Code(props) {
    const link = h("a", { href: props.pin.link, target: "_blank", rel: "noopener noreferrer", className: "plexsync-link" }, props.pin.link);
    const minutes = Math.max(1, Math.round(props.pin.expires_in / 60));
    return h(
      "div",
      null,
      h("p", null, "Open ", link, " and enter this code:"),
      h("p", { className: "plexsync-code display-4 text-monospace" }, props.pin.code),
      h("p", { className: "text-muted plexsync-waiting" }, "Waiting for the code to be linked (it works for " + minutes + " more min)…"),
      button("Cancel", "plexsync-cancel", props.onCancel, "secondary")
    );
  }

  // Step 3: the account's servers, each address tried from the machine Stash runs on.
  function Servers(props) {
    const { Badge } = api.libraries.Bootstrap;
    if (!props.servers.length) return h("p", null, "This Plex account has no server.");
    return h(
      "ul",
      { className: "list-unstyled plexsync-servers" },
      props.servers.map(function (s) {
        const fastest = s.connections.find(function (c) { return c.ms !== null; });
        const where = s.answers
          ? "answers at " + s.address + " (" + fastest.ms + " ms" + (fastest.local ? ", local" : fastest.relay ? ", relay" : "") + ")"
          : "no address answers from the machine Stash runs on";
        return h(
          "li",
          { key: s.machine, className: "plexsync-server mb-2" },
          h("strong", null, s.name), " ",
          h(Badge, { variant: s.owned ? "info" : "secondary" }, s.owned ? "owned" : "shared"), " ",
          h("span", { className: s.answers ? "text-success" : "text-warning" }, where), " ",
          button("Use this server", "plexsync-choose", function () { props.onChoose(s); }, "primary", !s.answers)
        );
      })
    );
  }

  // Step 4: the movie-type libraries, ticked as plexLibraries says.
  function Libraries(props) {
    const [ticked, setTicked] = React.useState(function () {
      return props.libraries.filter(function (l) { return l.synced; }).map(function (l) { return l.title; });
    });
    const toggle = function (title) {
      setTicked(ticked.indexOf(title) >= 0 ? ticked.filter(function (t) { return t !== title; }) : ticked.concat([title]));
    };
    return h(
      "div",
      null,
      props.libraries.map(function (l) {
        return h(
          "div",
          { key: l.key, className: "form-check plexsync-library" },
          h("input", { type: "checkbox", className: "form-check-input", id: "plexsync-lib-" + l.key, checked: ticked.indexOf(l.title) >= 0, onChange: function () { toggle(l.title); } }),
          h("label", { className: "form-check-label", htmlFor: "plexsync-lib-" + l.key }, l.title + " (" + l.items + " items)")
        );
      }),
      h("div", { className: "mt-2" }, button("Save libraries", "plexsync-save-libraries", function () { props.onSave(ticked); }, "primary", !ticked.length))
    );
  }

  // Step 5: the path map PlexSync found, with what each rule finds.
  function PathMap(props) {
    const { Table } = api.libraries.Bootstrap;
    const p = props.proposal;
    const summary = p.found + " of " + p.scenes + " scenes found with these rules (" + p.found_as_is + " at the same path), " + p.left + " not found.";
    const rows = p.rules.map(function (r) {
      return h(
        "tr",
        { key: r.rule, className: "plexsync-rule" },
        h("td", null, h("code", null, r.stash)),
        h("td", null, h("code", null, r.plex)),
        h("td", null, String(r.scenes)),
        h("td", null, r.examples.map(function (pair, i) { return h("div", { key: i, className: "small text-muted" }, pair[0] + " → " + pair[1]); }))
      );
    });
    const head = h("thead", null, h("tr", null, ["Stash sees", "Plex sees", "Scenes", "For example"].map(function (t) { return h("th", { key: t }, t); })));
    return h(
      "div",
      null,
      p.rules.length ? h(Table, { size: "sm", className: "plexsync-rules" }, head, h("tbody", null, rows)) : h("p", null, "No path map is needed: Stash and Plex see the same paths."),
      h("p", { className: "plexsync-pathmap-summary" }, summary),
      p.left_examples.length ? h("p", { className: "small text-muted plexsync-left" }, "Not found, for example: " + p.left_examples.join("; ")) : null,
      p.refused.length ? h("p", { className: "small text-muted" }, "Not proposed (it would map a file onto another file of the same name): " + p.refused.join("; ")) : null,
      p.rules.length ? button("Apply", "plexsync-apply", props.onApply) : null,
      button(props.skipLabel || (p.rules.length ? "Skip" : "Continue"), "plexsync-skip", props.onSkip, "secondary")
    );
  }

  // Step 6: what Sync all would do, before it starts.
  function Preview(props) {
    const p = props.preview;
    const cell = function (label, value, className) {
      return h("div", { key: label, className: "col-6 col-md-3 mb-2 " + className }, h("h4", { className: "mb-0" }, String(value)), h("small", { className: "text-muted" }, label));
    };
    return h(
      "div",
      null,
      h(
        "div",
        { className: "row plexsync-preview" },
        cell("would be written", p.would_write, "plexsync-would-write"),
        cell("already match", p.already_match, "plexsync-already-match"),
        cell("not in Plex", p.not_in_plex, "plexsync-not-in-plex"),
        cell("ambiguous", p.ambiguous, "plexsync-ambiguous")
      ),
      h(
        "ul",
        { className: "small plexsync-examples" },
        p.examples.would_write.map(function (e) {
          return h("li", { key: e.scene_id }, (e.plex_title || "(no title)") + " → " + e.stash_title + " (" + e.fields.join(", ") + ")");
        })
      ),
      button("Start Sync all", "plexsync-start-sync", props.onStart)
    );
  }

  // The whole first run; `onDone` is called once Sync all has started.
  function Connect(props) {
    const { Card } = api.libraries.Bootstrap;
    const [step, setStep] = React.useState("start");
    const [data, setData] = React.useState({});
    const [error, setError] = React.useState(null);
    const [busy, setBusy] = React.useState(false);

    async function run(mode, args, next) {
      setBusy(true);
      setError(null);
      try {
        const answer = await ui.operation(mode, args);
        await next(answer);
      } catch (e) {
        setError(e);
      }
      setBusy(false);
    }

    const start = function () {
      run("plex_link_start", {}, function (pin) {
        setData({ pin: pin });
        setStep("code");
      });
    };

    // While the code is shown: ask again POLL_MS after each answer (never two at once) until
    // it is linked, expires or the person cancels.
    React.useEffect(
      function () {
        if (step !== "code") return undefined;
        let stopped = false;
        let timer = null;
        async function poll() {
          try {
            const answer = await ui.operation("plex_link_poll");
            if (stopped) return;
            if (answer.state === "linked") {
              setData(function (d) { return Object.assign({}, d, { servers: answer.servers }); });
              setStep("servers");
              return;
            }
          } catch (e) {
            if (stopped) return;
            setError(e);
            setStep("start");
            return;
          }
          timer = setTimeout(poll, POLL_MS);
        }
        timer = setTimeout(poll, POLL_MS);
        return function () {
          stopped = true;
          clearTimeout(timer);
        };
      },
      [step]
    );

    const cancel = function () {
      run("plex_link_cancel", {}, function () { setStep("start"); });
    };
    const choose = function (server) {
      run("plex_choose_server", { server: server.machine }, async function (chosen) {
        const found = await ui.operation("plex_libraries");
        setData(function (d) { return Object.assign({}, d, { chosen: chosen, libraries: found.libraries }); });
        setStep("libraries");
      });
    };
    const discover = async function () {
      const proposal = await ui.operation("path_map_discover");
      setData(function (d) { return Object.assign({}, d, { proposal: proposal }); });
      setStep("pathmap");
    };
    const saveLibraries = function (titles) {
      run("plex_save_libraries", { libraries: titles }, discover);
    };
    const preview = async function () {
      const answer = await ui.operation("sync_preview");
      setData(function (d) { return Object.assign({}, d, { preview: answer }); });
      setStep("preview");
    };
    const apply = function () {
      run("path_map_apply", { path_map: data.proposal.path_map }, preview);
    };
    const skip = function () {
      run("sync_preview", {}, function (answer) {
        setData(function (d) { return Object.assign({}, d, { preview: answer }); });
        setStep("preview");
      });
    };
    const startSync = async function () {
      setBusy(true);
      try {
        await ui.startTask(SYNC_ALL);
      } catch (e) {
        setError(e);
        setBusy(false);
        return;
      }
      props.onDone(); // the page shows the queue from here on
    };

    const titles = {
      start: "Connect to Plex",
      code: "Sign in with Plex",
      servers: "Choose your Plex server",
      libraries: "Libraries to sync",
      pathmap: "How Stash's paths look in Plex",
      preview: "Before the first Sync all",
    };
    let body;
    if (step === "start")
      body = h(
        "div",
        null,
        h("p", null, "PlexSync needs your Plex server. Sign in with your Plex account: you get a code to enter at plex.tv/link, then choose the server. PlexSync keeps that server's own access token in its data folder, never your account's, and never in Stash's settings."),
        button("Connect to Plex", "plexsync-connect", start, "primary", busy)
      );
    else if (step === "code") body = h(Code, { pin: data.pin, onCancel: cancel });
    else if (step === "servers") body = h(Servers, { servers: data.servers, onChoose: choose });
    else if (step === "libraries")
      body = h(
        "div",
        null,
        h("p", { className: "plexsync-chosen" }, "Connected to " + data.chosen.server + " at " + data.chosen.address + "."),
        h(Libraries, { libraries: data.libraries, onSave: saveLibraries })
      );
    else if (step === "pathmap") body = h(PathMap, { proposal: data.proposal, onApply: apply, onSkip: skip });
    else body = h(Preview, { preview: data.preview, onStart: startSync });
    return h(
      Card,
      { className: "plexsync-first-run mb-3" },
      h(
        Card.Body,
        null,
        h("h5", null, titles[step]),
        h(Problem, { error: error }, step === "pathmap" || step === "libraries" ? button("Continue anyway", "plexsync-continue ml-2", skip, "secondary") : null),
        busy ? h("p", { className: "text-muted plexsync-busy" }, "Working…") : null,
        body
      )
    );
  }

  // On a configured page: where the token comes from, the way out, and the path map and the
  // preview again (a user who typed plexToken by hand gets them here).
  function Connection(props) {
    const token = props.status.plex_token || {};
    const Toast = api.hooks.useToast();
    const [shown, setShown] = React.useState(null); // {proposal} or {preview}
    const [busy, setBusy] = React.useState(false);

    async function ask(mode, args, key) {
      setBusy(true);
      try {
        const answer = await ui.operation(mode, args);
        setShown(key ? { [key]: answer } : null);
        if (!key) Toast.success("PlexSync: " + answer.said);
      } catch (e) {
        Toast.error(ui.message(e));
      }
      setBusy(false);
    }
    const disconnect = async function () {
      try {
        await ui.operation("plex_disconnect");
        Toast.success("PlexSync: disconnected from Plex");
      } catch (e) {
        Toast.error(ui.message(e));
      }
      props.onChange();
    };
    const signedIn = token.source === "signed in with Plex";
    const source = signedIn ? "Signed in with Plex: server " + token.server + ". " : token.source ? "Plex token from the " + token.source + ". " : "";
    let details = null;
    if (shown && shown.proposal)
      details = h(PathMap, {
        proposal: shown.proposal,
        onApply: function () { ask("path_map_apply", { path_map: shown.proposal.path_map }, null); },
        onSkip: function () { setShown(null); },
        skipLabel: "Close",
      });
    else if (shown && shown.preview)
      details = h(Preview, { preview: shown.preview, onStart: function () { setShown(null); props.onSync(); } });
    return h(
      "div",
      { className: "plexsync-connection" },
      h(
        "p",
        { className: "plexsync-token-source" },
        source,
        signedIn ? button("Disconnect", "plexsync-disconnect", disconnect, "outline-danger") : null,
        button("Find the path map", "plexsync-find-path-map", function () { ask("path_map_discover", {}, "proposal"); }, "secondary", busy),
        button("Preview", "plexsync-preview-again", function () { ask("sync_preview", {}, "preview"); }, "secondary", busy)
      ),
      busy ? h("p", { className: "text-muted plexsync-busy" }, "Working…") : null,
      details
    );
  }

  ui.Connect = Connect;
  ui.Connection = Connection;
})();
