// window.PluginApi as Stash's plugin manual documents it (docs/en/Manual/UIPluginApi.md in
// Stash's repository), written for this test host. The libraries are npm's own builds, loaded
// by index.html before this file; what the manual lists and this host leaves out is in
// README.md beside it.
(function () {
  "use strict";
  const React = window.React;
  const h = React.createElement;
  const patches = { before: {}, instead: {}, after: {} };
  const components = {};
  const routes = [];

  function registered(kind, name) {
    return patches[kind][name] || [];
  }

  function addPatch(kind) {
    return function (name, fn) {
      if (!patches[kind][name]) patches[kind][name] = [];
      patches[kind][name].push(fn);
    };
  }

  // A component plugins can patch. React calls a function component with (props, context),
  // and every patch sees all of those arguments: before returns the new list, instead gets the
  // next render last, after gets the render's result last.
  function patchable(name, render) {
    function Patched() {
      let args = Array.prototype.slice.call(arguments);
      registered("before", name).forEach(function (fn) {
        args = fn.apply(null, args);
      });
      const chain = registered("instead", name).reduceRight(function (next, fn) {
        return function () {
          return fn.apply(null, Array.prototype.slice.call(arguments).concat([next]));
        };
      }, render);
      return registered("after", name).reduce(function (result, fn) {
        return fn.apply(null, args.concat([result]));
      }, chain.apply(null, args));
    }
    Patched.displayName = name;
    components[name] = Patched;
    return Patched;
  }

  // Toasts as Stash shows them: one at a time; an error outranks a success until it is gone.
  const ToastContext = React.createContext(null);
  let toasts = 0;

  function ToastProvider(props) {
    const { Toast } = window.ReactBootstrap;
    const [toast, setToast] = React.useState(null);
    const shown = React.useRef(null);
    const add = React.useCallback(function (item) {
      const now = shown.current;
      if (now && (now.priority || 0) > (item.priority || 0)) return;
      shown.current = Object.assign({ id: ++toasts }, item);
      setToast(shown.current);
    }, []);
    function hide() {
      shown.current = null;
      setToast(null);
    }
    const item =
      toast &&
      h(
        Toast,
        {
          key: toast.id,
          autohide: true,
          delay: toast.delay || 3000,
          onClose: hide,
          className: toast.variant || "success",
        },
        h(Toast.Header, null, h("span", { className: "mr-auto" }, toast.content))
      );
    return h(
      ToastContext.Provider,
      { value: add },
      props.children,
      h("div", { className: "toast-container row" }, item)
    );
  }

  function useToast() {
    const add = React.useContext(ToastContext);
    return React.useMemo(
      function () {
        return {
          toast: add,
          success: function (content) {
            add({ content: content });
          },
          error: function (error) {
            const content = error && error.message ? error.message : String(error);
            add({ content: content, variant: "danger", priority: 100, delay: 5000 });
          },
        };
      },
      [add]
    );
  }

  const Icon = patchable("Icon", function (props) {
    const { FontAwesomeIcon } = window["react-fontawesome"];
    return h(FontAwesomeIcon, { icon: props.icon, className: "fa-icon " + (props.className || "") });
  });

  const LoadingIndicator = patchable("LoadingIndicator", function (props) {
    const { Spinner } = window.ReactBootstrap;
    return h(
      "div",
      { className: "LoadingIndicator" },
      h(Spinner, { animation: "border", role: "status" }),
      h("h4", { className: "LoadingIndicator-message" }, props.message || "Loading...")
    );
  });

  // mousetrap-pause is CommonJS only: run it with a module object of its own.
  function commonJs(source) {
    const module = { exports: {} };
    new Function("module", "exports", source)(module, module.exports);
    return module.exports;
  }

  window.PluginApi = {
    React: React,
    ReactDOM: window.ReactDOM,
    libraries: {
      ReactRouterDOM: window.ReactRouterDOM,
      Bootstrap: window.ReactBootstrap,
      Intl: window.ReactIntl,
      FontAwesomeSolid: window["free-solid-svg-icons"],
      FontAwesomeRegular: window["free-regular-svg-icons"],
      FontAwesomeBrands: window["free-brands-svg-icons"],
      Mousetrap: window.Mousetrap,
      MousetrapPause: null, // filled by loadMousetrapPause() before any plugin runs
    },
    register: {
      route: function (path, component) {
        routes.push({ path: path, component: component });
      },
      component: function (name, component) {
        components[name] = component;
      },
    },
    components: components,
    patch: { before: addPatch("before"), instead: addPatch("instead"), after: addPatch("after") },
    hooks: {
      useToast: useToast,
      useLoadComponents: function () {
        return false; // nothing here is split into chunks: always loaded
      },
    },
    loadableComponents: {},
    utils: {
      loadComponents: function () {
        return Promise.resolve();
      },
    },
    Event: new EventTarget(),
  };

  // What host.js builds the stand-in pages with; not part of the documented API.
  window.PluginHost = {
    patchable: patchable,
    routes: routes,
    ToastProvider: ToastProvider,
    Icon: Icon,
    LoadingIndicator: LoadingIndicator,
    loadMousetrapPause: async function () {
      const response = await fetch("/lib/mousetrap-pause/mousetrap-pause.js");
      window.PluginApi.libraries.MousetrapPause = commonJs(await response.text());
    },
  };
})();
