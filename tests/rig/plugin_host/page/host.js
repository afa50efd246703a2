// The pages a UI plugin patches, standing in for Stash's: a navbar, a scene list of cards and
// a scene page with tabs, filled through /graphql. Then the plugins are loaded as Stash loads
// them (the `plugins` query's paths, CSS and scripts in order) and the app is rendered.
(function () {
  "use strict";
  const React = window.React;
  const h = React.createElement;
  const host = window.PluginHost;
  const { Button, ButtonGroup, Card, Nav, Navbar, Tab } = window.ReactBootstrap;
  const { BrowserRouter, Link, NavLink, Redirect, Route, Switch, useHistory, useLocation, useParams } =
    window.ReactRouterDOM;
  const solid = window["free-solid-svg-icons"];
  const Icon = host.Icon;

  async function graphql(query, variables) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: query, variables: variables || {} }),
    });
    const body = await response.json();
    if (body.errors && body.errors.length) throw new Error(body.errors[0].message);
    return body.data;
  }

  function useQuery(query, variables) {
    const key = JSON.stringify(variables);
    const [found, setFound] = React.useState({ data: null, error: null });
    React.useEffect(
      function () {
        let live = true;
        setFound({ data: null, error: null });
        graphql(query, variables).then(
          function (data) {
            if (live) setFound({ data: data, error: null });
          },
          function (error) {
            if (live) setFound({ data: null, error: error });
          }
        );
        return function () {
          live = false;
        };
      },
      [key]
    );
    return found;
  }

  const MenuItems = host.patchable("MainNavBar.MenuItems", function (props) {
    return h(React.Fragment, null, props.children);
  });
  const UtilityItems = host.patchable("MainNavBar.UtilityItems", function (props) {
    return h(React.Fragment, null, props.children);
  });

  function MainNavBar() {
    const utilities = function () {
      return h(
        UtilityItems,
        null,
        h(
          NavLink,
          { className: "nav-utility", exact: true, to: "/settings" },
          h(Button, { className: "minimal d-flex align-items-center h-100", title: "Settings" }, h(Icon, { icon: solid.faGear }))
        )
      );
    };
    return h(
      Navbar,
      { collapseOnSelect: true, fixed: "top", variant: "dark", bg: "dark", className: "top-nav", expand: "xl" },
      h(Navbar.Brand, { as: Link, to: "/" }, "Plugin host"),
      h(Navbar.Toggle, null),
      h(
        Navbar.Collapse,
        null,
        h(
          Nav,
          { className: "mr-auto" },
          h(MenuItems, null, h(Nav.Link, { as: NavLink, to: "/scenes" }, h(Icon, { icon: solid.faCirclePlay }), " Scenes"))
        ),
        h(Nav, { className: "d-xl-none" }, utilities())
      ),
      h(Nav, { className: "navbar-buttons d-none d-xl-flex" }, utilities())
    );
  }

  const SCENE_FIELDS =
    "id title date details organized paths { screenshot } studio { name } " +
    "performers { name } tags { name } files { path size duration width height }";

  const Overlays = host.patchable("SceneCard.Overlays", function (props) {
    const studio = props.scene.studio;
    const label = studio ? h("span", { className: "studio-overlay" }, studio.name) : null;
    return h("div", { className: "card-overlays" }, label);
  });

  const SceneCardImage = host.patchable("SceneCard.Image", function (props) {
    return h("img", { className: "scene-card-preview-image", src: props.scene.paths.screenshot, alt: "" });
  });

  const SceneCardDetails = host.patchable("SceneCard.Details", function (props) {
    const file = props.scene.files[0];
    return h(
      "div",
      { className: "card-section" },
      h(
        Link,
        { to: "/scenes/" + props.scene.id },
        h("h5", { className: "card-section-title" }, props.scene.title || (file && file.path))
      ),
      h("span", { className: "scene-card-date text-muted" }, props.scene.date || "")
    );
  });

  const SceneCard = host.patchable("SceneCard", function (props) {
    return h(
      Card,
      { className: "scene-card grid-card" },
      h(
        "div",
        { className: "thumbnail-section" },
        h(Link, { to: "/scenes/" + props.scene.id }, h(SceneCardImage, props)),
        h(Overlays, props)
      ),
      h(SceneCardDetails, props)
    );
  });

  const Pagination = host.patchable("Pagination", function (props) {
    const pages = Math.max(1, Math.ceil(props.count / props.perPage));
    const button = function (label, page, active) {
      return h(Button, { key: label, variant: "secondary", active: active, disabled: page < 1 || page > pages,
        onClick: function () { props.onChange(page); } }, label);
    };
    const numbers = [];
    for (let p = 1; p <= pages; p++) numbers.push(button(String(p), p, p === props.page));
    const previous = button("‹", props.page - 1, false);
    return h(ButtonGroup, { className: "pagination" }, previous, numbers, button("›", props.page + 1, false));
  });

  function SceneList() {
    const location = useLocation();
    const history = useHistory();
    const params = new URLSearchParams(location.search);
    const perPage = Number(params.get("perPage")) || 40;
    const page = Number(params.get("p")) || 1;
    const filter = {
      per_page: perPage,
      page: page,
      sort: params.get("sortby") || "title",
      direction: params.get("sortdir") === "desc" ? "DESC" : "ASC",
    };
    const found = useQuery(
      "query FindScenes($filter: FindFilterType) { findScenes(filter: $filter) { count scenes { " +
        SCENE_FIELDS +
        " } } }",
      { filter: filter }
    );
    if (found.error) return h("div", { className: "alert alert-danger" }, found.error.message);
    if (!found.data) return h(host.LoadingIndicator, null);
    const result = found.data.findScenes;
    const go = function (p) {
      params.set("p", String(p));
      history.push(location.pathname + "?" + params.toString());
    };
    const pager = h(Pagination, { count: result.count, perPage: perPage, page: page, onChange: go });
    return h(
      "div",
      { className: "scene-list" },
      h("div", { className: "d-flex justify-content-center mb-2" }, pager),
      h("div", { className: "row justify-content-center" }, result.scenes.map(function (scene) {
        return h(SceneCard, { key: scene.id, scene: scene });
      })),
      h("div", { className: "d-flex justify-content-center mt-2" }, pager)
    );
  }

  const Tabs = host.patchable("ScenePage.Tabs", function (props) {
    return h(Nav, { variant: "tabs", className: "mr-auto" }, props.children);
  });
  const TabContent = host.patchable("ScenePage.TabContent", function (props) {
    return h(Tab.Content, null, props.children);
  });

  function details(scene) {
    const row = function (label, value) {
      return value ? h("div", { key: label }, h("h6", null, label), h("p", null, value)) : null;
    };
    const names = function (items) {
      return items.map(function (i) { return i.name; }).join(", ");
    };
    return h(
      "div",
      { className: "scene-details" },
      row("Date", scene.date),
      row("Studio", scene.studio && scene.studio.name),
      row("Performers", names(scene.performers)),
      row("Tags", names(scene.tags)),
      row("Details", scene.details)
    );
  }

  function fileInfo(scene) {
    return h("dl", { className: "scene-file-info" }, scene.files.map(function (f) {
      return [h("dt", { key: f.path + "p" }, "Path"), h("dd", { key: f.path }, f.path + " (" + f.size + " bytes)")];
    }));
  }

  const ScenePage = host.patchable("ScenePage", function (props) {
    const scene = props.scene;
    const tabs = h(
      Tabs,
      { scene: scene },
      h(Nav.Item, { key: "details" }, h(Nav.Link, { eventKey: "scene-details-panel" }, "Details")),
      h(Nav.Item, { key: "files" }, h(Nav.Link, { eventKey: "scene-file-info-panel" }, "File Info"))
    );
    const panes = h(
      TabContent,
      { scene: scene },
      h(Tab.Pane, { key: "details", eventKey: "scene-details-panel" }, details(scene)),
      h(Tab.Pane, { key: "files", eventKey: "scene-file-info-panel" }, fileInfo(scene))
    );
    return h(
      "div",
      { className: "row scene-page" },
      h(
        "div",
        { className: "scene-tabs col-md-5" },
        h("h3", { className: "scene-header" }, scene.title),
        h(
          Tab.Container,
          { defaultActiveKey: "scene-details-panel", mountOnEnter: true },
          h("div", { className: "mb-3" }, tabs),
          panes
        )
      ),
      h(
        "div",
        { className: "scene-player-container col-md-7" },
        h("img", { className: "scene-cover w-100", src: scene.paths.screenshot, alt: "" })
      )
    );
  });

  function SceneRoute() {
    const id = useParams().id;
    const found = useQuery("query FindScene($id: ID!) { findScene(id: $id) { " + SCENE_FIELDS + " } }", { id: id });
    if (found.error) return h("div", { className: "alert alert-danger" }, found.error.message);
    if (!found.data) return h(host.LoadingIndicator, null);
    if (!found.data.findScene) return h("h2", null, "Scene " + id + " not found");
    return h(ScenePage, { scene: found.data.findScene });
  }

  const PluginRoutes = host.patchable("PluginRoutes", function () {
    return h(Switch, null, host.routes.map(function (r) {
      return h(Route, { key: r.path, path: r.path, component: r.component });
    }));
  });

  function LocationEvents() {
    const location = useLocation();
    React.useEffect(
      function () {
        const detail = { data: { location: location } };
        window.PluginApi.Event.dispatchEvent(new CustomEvent("stash:location", { detail: detail }));
      },
      [location]
    );
    return null;
  }

  const App = host.patchable("App", function () {
    const pages = h(
      Switch,
      null,
      h(Route, { exact: true, path: "/" }, h(Redirect, { to: "/scenes" })),
      h(Route, { exact: true, path: "/scenes", component: SceneList }),
      h(Route, { path: "/scenes/:id", component: SceneRoute }),
      h(Route, { path: "/plugin" }, h(PluginRoutes, null)),
      h(Route, null, h("h2", null, "Not a page of this host"))
    );
    // Stash's UI speaks British English by default; plugins may use react-intl inside it.
    const intl = { locale: "en-GB", defaultLocale: "en-GB", messages: {} };
    return h(
      BrowserRouter,
      null,
      h(
        window.ReactIntl.IntlProvider,
        intl,
        h(
          host.ToastProvider,
          null,
          h(LocationEvents, null),
          h(MainNavBar, null),
          h("div", { className: "main container-fluid" }, pages)
        )
      )
    );
  });

  function load(tag, attributes) {
    return new Promise(function (resolve, reject) {
      const element = Object.assign(document.createElement(tag), attributes);
      element.onload = resolve;
      element.onerror = function () {
        reject(new Error("could not load " + (attributes.src || attributes.href)));
      };
      document.head.appendChild(element);
    });
  }

  async function boot() {
    await host.loadMousetrapPause();
    const data = await graphql("query Plugins { plugins { id enabled paths { javascript css } } }");
    const plugins = (data.plugins || []).filter(function (p) { return p.enabled; });
    for (const plugin of plugins) {
      for (const href of plugin.paths.css || []) await load("link", { rel: "stylesheet", href: href });
      for (const src of plugin.paths.javascript || []) await load("script", { src: src });
    }
    window.ReactDOM.render(h(App, null), document.getElementById("root"));
  }

  boot();
})();
