// A UI plugin that uses each part of PluginApi the host offers and notes what it saw in
// window.probe, for tests/test_plugin_api.py.
(function () {
  "use strict";
  const api = window.PluginApi;
  const React = api.React;
  const h = React.createElement;
  const probe = (window.probe = { after: [], locations: [], libraries: {} });
  Object.keys(api.libraries).forEach(function (name) {
    probe.libraries[name] = api.libraries[name] ? typeof api.libraries[name] : "missing";
  });
  api.Event.addEventListener("stash:location", function (e) {
    probe.locations.push(e.detail.data.location.pathname);
  });

  // after: the original render's result is the last argument, whatever comes before it.
  api.patch.after("SceneCard.Overlays", function () {
    const last = arguments[arguments.length - 1];
    probe.after.push({ count: arguments.length, lastIsElement: React.isValidElement(last) });
    return h(React.Fragment, null, last, h("span", { className: "probe-after" }, "after"));
  });

  // instead: the first registered runs first and gets the next render last; the second one
  // does not call its next, so the original title is not rendered.
  api.patch.instead("SceneCard.Details", function () {
    const next = arguments[arguments.length - 1];
    const rest = Array.prototype.slice.call(arguments, 0, -1);
    return h("div", { className: "probe-outer" }, next.apply(null, rest));
  });
  api.patch.instead("SceneCard.Details", function (props) {
    return h("span", { className: "probe-inner" }, "instead of " + props.scene.title);
  });

  // before: returns the new argument list for the render.
  api.patch.before("MainNavBar.UtilityItems", function (props) {
    const { NavLink } = api.libraries.ReactRouterDOM;
    const link = h(NavLink, { key: "probe", className: "probe-nav", to: "/plugin/probe" }, "Probe");
    return [Object.assign({}, props, { children: h(React.Fragment, null, props.children, link) })];
  });

  api.register.component("plugin-probe-greeting", function (props) {
    const { FormattedNumber } = api.libraries.Intl;
    return h("p", { className: "probe-greeting" }, "Hello ", h(FormattedNumber, { value: props.n }));
  });

  function ProbePage() {
    const { Button } = api.libraries.Bootstrap;
    const { Icon } = api.components;
    const Greeting = api.components["plugin-probe-greeting"];
    const Toast = api.hooks.useToast();
    return h(
      "div",
      { className: "probe-page" },
      h(Greeting, { n: 1234.5 }),
      h(Icon, { icon: api.libraries.FontAwesomeRegular.faBell }),
      h(Button, { className: "probe-toast", onClick: function () { Toast.success("probe says hi"); } }, "Toast"),
      h(Button, { className: "probe-error", onClick: function () { Toast.error(new Error("probe failed")); } }, "Error")
    );
  }
  api.register.route("/plugin/probe", ProbePage);
})();
