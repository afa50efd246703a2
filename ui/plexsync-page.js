// PlexSync in Stash's UI, part 3: the PlexSync page (/plugin/plexsync) and its navbar button.
(function () {
  "use strict";
  const api = window.PluginApi;
  const ui = window.PlexSyncUI;
  const React = api.React;
  const h = React.createElement;

  // Task names as PlexSync.yml spells them: runPluginTask makes each a Stash job.
  const JOBS = [
    ["Sync all", "Sync all scenes to Plex", "faRotate"],
    ["Process the queue", "Process the queue now", "faForward"],
    ["Verify", "Verify Plex against Stash", "faMagnifyingGlass"],
    ["Verify and repair", "Verify and repair", "faWrench"],
  ];
  const COUNTS = [
    "in_sync", "drifted", "unlocked", "not_in_plex", "excluded", "ambiguous", "no_file", "skipped",
  ];

  function button(label, variant, className, onClick) {
    const { Button } = api.libraries.Bootstrap;
    return h(Button, { key: label, size: "sm", variant: variant, className: className, onClick: onClick }, label);
  }

  function Counts(props) {
    const s = props.status;
    const cell = function (label, value) {
      return h(
        "div",
        { key: label, className: "col-6 col-md-2 mb-2" },
        h("h4", { className: "mb-0" }, String(value)),
        h("small", { className: "text-muted" }, label)
      );
    };
    const plex = s.plex.reachable && h("p", { className: "plexsync-plex text-success" }, "Plex answers (" + s.plex.name + ")");
    return h(
      "div",
      { className: "plexsync-counts" },
      h(
        "div",
        { className: "row" },
        cell("pending", s.pending),
        cell("retrying", s.delayed),
        cell("in flight", s.in_flight),
        cell("failed", s.failed),
        cell("synced scenes", s.synced_scenes),
        cell("worker", s.worker)
      ),
      plex
    );
  }

  function FailedList(props) {
    const { Table } = api.libraries.Bootstrap;
    const { Link } = api.libraries.ReactRouterDOM;
    const act = props.act;
    const confirm = props.confirm;
    if (!props.jobs.length) return h("p", { className: "text-muted" }, "No failed syncs.");
    const row = function (job) {
      const scene = job.scene_id ? h(Link, { to: "/scenes/" + job.scene_id }, job.title) : job.title;
      return h(
        "tr",
        { key: job.key, className: "plexsync-failed-row" },
        h("td", null, scene),
        h("td", null, job.message),
        h("td", null, ui.when(job.last_failed_at)),
        h(
          "td",
          { className: "text-nowrap" },
          button("Retry", "secondary", "plexsync-retry mr-1", function () {
            act("retry_failed", { keys: [job.key] });
          }),
          button("Clear", "danger", "plexsync-clear", function () {
            confirm("Remove " + job.title + " from the failed list? It is not synced again unless it changes.", function () {
              act("clear_failed", { keys: [job.key] });
            });
          })
        )
      );
    };
    const head = h("thead", null, h("tr", null, ["Scene", "Why", "When", ""].map(function (t) {
      return h("th", { key: t }, t);
    })));
    return h(
      "div",
      null,
      h(Table, { striped: true, size: "sm", className: "plexsync-failed" }, head, h("tbody", null, props.jobs.map(row))),
      button("Retry all", "secondary", "plexsync-retry-all mr-2", function () {
        act("retry_failed", {});
      }),
      button("Clear all", "danger", "plexsync-clear-all", function () {
        confirm("Remove all " + props.jobs.length + " failed syncs from the list? They are not synced again unless they change.", function () {
          act("clear_failed", {});
        });
      })
    );
  }

  function Runs(props) {
    if (!props.runs.length) return h("p", { className: "text-muted" }, "No task has run yet.");
    return h(
      "ul",
      { className: "plexsync-runs list-unstyled" },
      props.runs.map(function (run, i) {
        const said = run.said || (run.error ? "failed: " + run.error : "done");
        return h("li", { key: i }, h("strong", null, run.title || run.task), " " + ui.when(run.started) + " — " + said);
      })
    );
  }

  function Verify(props) {
    const v = props.verify;
    if (!v) return h("p", { className: "text-muted" }, "No verify report yet.");
    const counts = COUNTS.filter(function (k) {
      return v[k];
    }).map(function (k) {
      return v[k] + " " + k.replace(/_/g, " ");
    });
    // verify-YYYYMMDD-HHMMSS.json -> YYYY-MM-DD HH:MM:SS (the time of the machine that ran it)
    const when = v.name.replace(/^verify-(\d{4})(\d\d)(\d\d)-(\d\d)(\d\d)(\d\d)\.json$/, "$1-$2-$3 $4:$5:$6");
    return h(
      "div",
      { className: "plexsync-verify" },
      h("p", null, v.scenes + " scenes checked on " + when + ": " + counts.join(", ")),
      button("Open the report", "secondary", "plexsync-report", props.openReport)
    );
  }

  function Confirm(props) {
    const { Button, Modal } = api.libraries.Bootstrap;
    const ask = props.ask;
    return h(
      Modal,
      { show: !!ask, onHide: props.close, className: "plexsync-confirm" },
      h(Modal.Body, null, ask && ask.question),
      h(
        Modal.Footer,
        null,
        h(Button, { variant: "secondary", className: "plexsync-confirm-no", onClick: props.close }, "Cancel"),
        h(
          Button,
          {
            variant: "danger",
            className: "plexsync-confirm-yes",
            onClick: function () {
              props.close();
              ask.yes();
            },
          },
          "Remove"
        )
      )
    );
  }

  // What the failed list's buttons answer ({"requeued": 2}), in words.
  const DONE = { requeued: "back in the queue", cleared: "removed from the failed list" };

  // After a job started from this page, look again every few seconds until its run is recorded.
  const JOB_POLL_MS = 3000;

  function PlexSyncPage() {
    const { Button, Card } = api.libraries.Bootstrap;
    const { Icon, LoadingIndicator } = api.components;
    const Toast = api.hooks.useToast();
    const [page, setPage] = React.useState(null);
    const [error, setError] = React.useState(null);
    const [ask, setAsk] = React.useState(null); // the question Confirm shows
    const [startedAt, setStartedAt] = React.useState(null); // a job started here, until it has run

    const load = React.useCallback(async function () {
      try {
        const overview = await ui.operation("overview");
        setPage(overview);
        setError(null);
        return overview;
      } catch (e) {
        setError(e);
        Toast.error(ui.message(e));
        return null;
      }
    }, []);
    React.useEffect(function () { load(); }, [load]);
    React.useEffect(
      function () {
        if (startedAt === null) return undefined;
        const poll = setInterval(async function () {
          const overview = await load();
          const runs = (overview && overview.last_runs) || [];
          if (runs.some(function (run) { return run.started * 1000 >= startedAt; })) setStartedAt(null);
        }, JOB_POLL_MS);
        return function () {
          clearInterval(poll);
        };
      },
      [startedAt]
    );
    function confirm(question, yes) {
      setAsk({ question: question, yes: yes });
    }

    async function act(mode, args) {
      try {
        const result = await ui.operation(mode, args);
        Toast.success("PlexSync: " + Object.entries(result).map(function (kv) { return kv[1] + " " + (DONE[kv[0]] || kv[0]); }).join(", "));
      } catch (e) {
        Toast.error(ui.message(e));
      }
      load();
    }

    async function start(job) {
      try {
        const clicked = Date.now() - 2000; // the plugin's clock may differ by a little
        await ui.startTask(job[1]);
        setStartedAt(clicked);
        Toast.success("PlexSync: " + job[0] + " started; this page updates when it has run");
      } catch (e) {
        Toast.error(ui.message(e));
      }
    }

    // The first run (ui/plexsync-connect.js) ends by starting Sync all.
    function started() {
      Toast.success("PlexSync: Sync all started; this page updates when it has run");
      setStartedAt(Date.now() - 2000);
      load();
    }

    async function openReport() {
      const tab = window.open("", "_blank"); // opened during the click: not a blocked pop-up
      try {
        const report = await ui.operation("verify_report");
        tab.location.href = URL.createObjectURL(new Blob([report.html], { type: "text/html" }));
      } catch (e) {
        tab.close();
        Toast.error(ui.message(e));
      }
    }

    const jobButton = function (job) {
      const onClick = function () {
        start(job);
      };
      const props = { key: job[1], variant: "secondary", className: "mr-2 mb-2", onClick: onClick };
      return h(Button, props, h(Icon, { icon: ui.icon(job[2]) }), " " + job[0]);
    };
    const refresh = h(
      Button,
      { variant: "secondary", className: "plexsync-refresh", title: "Refresh", "aria-label": "Refresh", onClick: load },
      h(Icon, { icon: ui.icon("faRotateRight") })
    );
    const section = function (title, body) {
      return h(Card, { className: "plexsync-section mb-3" }, h(Card.Body, null, h("h5", null, title), body));
    };
    let body;
    if (!page) body = error ? h("p", { className: "text-warning" }, ui.message(error)) : h(LoadingIndicator, null);
    else if (page.problem && page.problem.kind === "not_configured")
      body = h(ui.Connect, { onDone: started }); // ui/plexsync-connect.js
    else
      body = h(
        React.Fragment,
        null,
        page.problem && h(ui.Problem, { problem: page.problem }),
        section("Queue and worker", h(React.Fragment, null, h(Counts, { status: page }), h(ui.Connection, { status: page, onChange: load, onSync: function () { start(JOBS[0]); } }))),
        section("Jobs", h("div", { className: "plexsync-jobs" }, JOBS.map(jobButton))),
        section("Failed syncs", h(FailedList, { jobs: page.failed_jobs, act: act, confirm: confirm })),
        section("Last runs", h(Runs, { runs: page.last_runs })),
        section("Last verify", h(Verify, { verify: page.last_verify, openReport: openReport }))
      );
    return h(
      "div",
      { className: "plexsync-page container-fluid mt-3" },
      h("div", { className: "d-flex align-items-center mb-3" }, h("h2", { className: "mr-auto" }, "PlexSync"), refresh),
      body,
      h(Confirm, { ask: ask, close: function () { setAsk(null); } })
    );
  }

  // Reached by in-app navigation: Stash's server owns /plugin/{id}/… (internal/api/server.go),
  // so typing this address into the browser gets Stash's 404, not the UI.
  api.register.route(ui.ROUTE, PlexSyncPage);

  // Rendered twice (collapsed menu and desktop bar): a class, never an id. A Nav.Link with an
  // eventKey, so that tapping it in the collapsed (phone) menu closes the menu, as Stash's
  // navbar does for its own items (react-bootstrap's collapseOnSelect).
  api.patch.before("MainNavBar.UtilityItems", function (props) {
    const { Button, Nav } = api.libraries.Bootstrap;
    const { NavLink } = api.libraries.ReactRouterDOM;
    const { Icon } = api.components;
    const link = h(
      Nav.Link,
      {
        key: "plexsync",
        as: NavLink,
        eventKey: ui.ROUTE,
        className: "nav-utility plexsync-nav",
        exact: true,
        to: ui.ROUTE,
        title: "PlexSync: sync status and failed syncs",
        "aria-label": "PlexSync",
      },
      h(Button, { className: "minimal d-flex align-items-center h-100", tabIndex: -1 }, h(Icon, { icon: ui.icon("faServer") }))
    );
    return [Object.assign({}, props, { children: h(React.Fragment, null, props.children, link) })];
  });
})();
