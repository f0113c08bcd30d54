// The operator console's Mustache templates and styles (see `ConsolePages.swift`), beside the
// reviewer page's in `PageTemplates.swift`. `{{x}}` is HTML-escaped; nothing uses `{{{x}}}`.

extension PageTemplates {
    /// The console's templates by name (merged into `PageTemplates.all`).
    static let console: [String: String] = [
        "console-tabs": consoleTabs, "console-instances": consoleInstances, "console-instance": consoleInstance,
        "console-templates": consoleTemplates, "console-plugins": consolePlugins, "console-failed": consoleFailed,
    ]

    static let consoleTabs = """
        <nav class="tabs" aria-label="Operator console">
          <ul>{{#tabs}}<li><a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{name}}</a></li>{{/tabs}}</ul>
        </nav>
        """

    static let consoleInstances = """
        {{> head}}
        {{> console-tabs}}
        <h1>Instances</h1>
        {{#error}}<p class="error" role="alert" id="filter-error">{{error}}</p>{{/error}}
        <form method="get" action="/console/instances" class="card filters" aria-label="Filter instances">
          <div><label for="f-template">Template</label>
            <select id="f-template" name="template"><option value="">any</option>{{#templateOptions}}<option{{#selected}} selected{{/selected}}>{{value}}</option>{{/templateOptions}}</select></div>
          <div><label for="f-version">Version</label><input type="text" id="f-version" name="version" value="{{filter.version}}" placeholder="1.1.0"></div>
          <div><label for="f-customer">Customer</label><input type="text" id="f-customer" name="customer" value="{{filter.customer}}"></div>
          <div><label for="f-status">Status</label>
            <select id="f-status" name="status"><option value="">any</option>{{#statuses}}<option{{#selected}} selected{{/selected}}>{{value}}</option>{{/statuses}}</select></div>
          <div><label for="f-state">At state</label><input type="text" id="f-state" name="state" value="{{filter.state}}" placeholder="review_reply"></div>
          <div><label for="f-older">Older than</label><input type="text" id="f-older" name="older_than" value="{{filter.older_than}}" placeholder="1h, 2d"{{#error}} aria-describedby="filter-error"{{/error}}></div>
          <div><button type="submit" id="apply-filters">Filter</button> <a href="/console/instances">Clear</a></div>
        </form>
        <p class="counts" id="status-counts"><span class="muted">By status (for these filters):</span>
          <a href="{{allHref}}"{{#allCurrent}} aria-current="true"{{/allCurrent}} class="count">all <strong>{{allCount}}</strong></a>
          {{#counts}}<a href="{{href}}"{{#current}} aria-current="true"{{/current}} class="count status-{{status}}" data-status="{{status}}">{{status}} <strong>{{count}}</strong></a> {{/counts}}
        </p>
        {{^hasRows}}<p class="card">No instance matches these filters.</p>{{/hasRows}}
        {{#hasRows}}
        <p>Instances {{first}} to {{last}} of {{matching}}, newest first.</p>
        <table class="queue" id="instances">
          <caption class="visually-hidden">Instances matching the filters, newest first</caption>
          <thead><tr><th scope="col">Instance</th><th scope="col">Status</th><th scope="col">State</th><th scope="col">Template</th><th scope="col">Customer</th><th scope="col">Created</th><th scope="col">Last change</th></tr></thead>
          <tbody>
          {{#rows}}
            <tr>
              <td><a href="/console/instances/{{id}}"><code>{{id}}</code></a></td>
              <td><span class="status status-{{status}}">{{status}}</span></td>
              <td>{{state}}</td>
              <td>{{template}}@{{version}}</td>
              <td>{{customer}}</td>
              <td><time datetime="{{createdISO}}">{{created}}</time> <span class="muted">({{age}})</span></td>
              <td><time datetime="{{updatedISO}}">{{updated}}</time></td>
            </tr>
          {{/rows}}
          </tbody>
        </table>
        {{/hasRows}}
        <nav class="paging" aria-label="Pages">
          {{#previous}}<a href="{{previous}}" rel="prev" id="previous-page">Previous page</a>{{/previous}}
          <span>Page {{pageNumber}} of {{pages}}</span>
          {{#next}}<a href="{{next}}" rel="next" id="next-page">Next page</a>{{/next}}
        </nav>
        {{> foot}}
        """

    static let consoleInstance = """
        {{> head}}
        {{> console-tabs}}
        <p><a href="/console/instances">All instances</a> · <a href="{{templateHref}}">Instances of {{template}}@{{version}}</a></p>
        <h1>Instance <code>{{id}}</code> <span class="status status-{{status}}">{{status}}</span></h1>
        {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
        {{#error}}<p class="error" role="alert" id="action-error">{{error}}</p>{{/error}}
        <dl class="facts">
          <div><dt>Template</dt><dd>{{template}}@{{version}}</dd></div>
          <div><dt>Customer</dt><dd>{{customer}}</dd></div>
          <div><dt>Status</dt><dd id="instance-status">{{status}}</dd></div>
          <div><dt>Current state</dt><dd id="current-state">{{current}}</dd></div>
          <div><dt>Attempt</dt><dd>{{attempt}}</dd></div>
          <div><dt>Events</dt><dd>{{events}}</dd></div>
          {{#started}}<div><dt>Started</dt><dd><time datetime="{{startedISO}}">{{started}}</time></dd></div>{{/started}}
        </dl>
        {{#failure}}<p class="error" id="failure">Failed at <strong>{{state}}</strong> ({{kind}}): {{message}}</p>{{/failure}}
        {{#canRetry}}
        <form method="post" action="/console/instances/{{id}}/retry" class="inline-form">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <button type="submit" id="retry">Retry from {{current}}</button>
          <span class="hint">Runs the step it failed at again, from attempt 1, with the same pinned template and config; journalled with your name.</span>
        </form>
        {{/canRetry}}
        {{#canCancel}}
        <form method="post" action="/console/instances/{{id}}/cancel" class="inline-form card narrow">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <label for="reason">Reason for cancelling (journalled)</label>
          <input type="text" id="reason" name="reason" value="{{reasonText}}" required>
          <button type="submit" id="cancel" class="danger">Cancel this instance</button>
        </form>
        {{/canCancel}}
        <section class="card" aria-labelledby="diagram-heading">
          <h2 id="diagram-heading">State diagram</h2>
          {{#diagramError}}<p class="error">{{diagramError}}</p>{{/diagramError}}
          {{#diagram}}
          <svg class="diagram" id="state-diagram" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}" role="img" aria-labelledby="diagram-title">
            <title id="diagram-title">States of {{template}}@{{version}}; the instance is at {{current}} ({{status}})</title>
            <defs>
              <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"></path></marker>
              <marker id="arrow-taken" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead taken"></path></marker>
            </defs>
            {{#edges}}<g class="{{cls}}" data-from="{{from}}" data-to="{{to}}"><path d="{{path}}" marker-end="url(#{{#taken}}arrow-taken{{/taken}}{{^taken}}arrow{{/taken}})"></path><text x="{{labelX}}" y="{{labelY}}" text-anchor="{{anchor}}" class="edge-label">{{label}}</text></g>{{/edges}}
            {{#nodes}}<g class="{{cls}}" data-state="{{name}}"{{#isCurrent}} id="current-node"{{/isCurrent}}><rect x="{{x}}" y="{{y}}" width="{{nodeWidth}}" height="{{nodeHeight}}" rx="6"></rect><text x="{{textX}}" y="{{nameY}}" text-anchor="middle" class="name">{{name}}</text><text x="{{textX}}" y="{{markY}}" text-anchor="middle" class="mark">{{mark}}</text></g>{{/nodes}}
          </svg>
          {{/diagram}}
          <ul class="legend" aria-label="Legend">
            <li><svg width="28" height="16" aria-hidden="true"><rect x="1" y="1" width="26" height="14" rx="3" class="swatch current"></rect></svg> current state, marked “now: status”</li>
            <li><svg width="28" height="16" aria-hidden="true"><rect x="1" y="1" width="26" height="14" rx="3" class="swatch visited"></rect></svg> visited, marked “visited”</li>
            <li><svg width="28" height="16" aria-hidden="true"><rect x="1" y="1" width="26" height="14" rx="3" class="swatch"></rect></svg> not visited, marked with its kind</li>
            <li><svg width="28" height="16" aria-hidden="true"><line x1="1" y1="8" x2="27" y2="8" class="swatch-line taken"></line></svg> transition taken (thick)</li>
          </ul>
          {{#pathText}}<p id="path-taken"><strong>Path taken:</strong> {{pathText}}</p>{{/pathText}}
        </section>
        <section class="card" aria-labelledby="pins-heading">
          <h2 id="pins-heading">Pinned versions</h2>
          <dl class="pins">
            <dt>Template</dt><dd>{{template}} version {{version}}</dd>
            <dt>Template text (SHA-256)</dt><dd><code>{{templateHash}}</code></dd>
            <dt>Config (SHA-256)</dt><dd><code>{{configHash}}</code>{{#configJSON}}<details><summary>The config it runs with</summary><pre tabindex="0">{{configJSON}}</pre></details>{{/configJSON}}</dd>
            <dt>Model bindings</dt><dd>{{#hasBindings}}<ul>{{#bindings}}<li>{{role}}: <code>{{adapter}}</code></li>{{/bindings}}</ul>{{/hasBindings}}{{^hasBindings}}none{{/hasBindings}}</dd>
            <dt>Plugin binaries that served it</dt><dd>{{#hasBinaries}}<ul>{{#binaries}}<li>{{state}}: {{plugin}}, <code>{{sha}}</code></li>{{/binaries}}</ul>{{/hasBinaries}}{{^hasBinaries}}none recorded yet{{/hasBinaries}}</dd>
          </dl>
        </section>
        <section class="card" aria-labelledby="timeline-heading">
          <h2 id="timeline-heading">Timeline</h2>
          <ol class="timeline" id="timeline">
            {{#timeline}}
            <li><span class="muted">#{{seq}}</span> <time datetime="{{atISO}}">{{at}}</time> <strong>{{kind}}</strong> by {{actor}}{{#detail}}: {{detail}}{{/detail}}
              <details><summary>Payload</summary><pre tabindex="0">{{payload}}</pre></details></li>
            {{/timeline}}
          </ol>
        </section>
        {{> foot}}
        """

    static let consoleTemplates = """
        {{> head}}
        {{> console-tabs}}
        <h1>Templates</h1>
        {{^hasTemplates}}<p class="card">No template is loaded.</p>{{/hasTemplates}}
        {{#templates}}
        <section class="card template" aria-labelledby="t-{{name}}">
          <h2 id="t-{{name}}">{{name}} <span class="muted">{{total}} instances · {{states}} states</span></h2>
          {{#description}}<p class="hint">{{description}}</p>{{/description}}
          <table class="queue">
            <caption class="visually-hidden">Versions of {{name}} with their instances</caption>
            <thead><tr><th scope="col">Version</th><th scope="col">Loaded</th><th scope="col">Instances</th><th scope="col">By status</th><th scope="col">Template texts</th></tr></thead>
            <tbody>
            {{#versions}}
              <tr data-version="{{version}}">
                <td>{{version}}{{#newest}} <span class="badge">newest</span>{{/newest}}</td>
                <td>{{#loaded}}yes{{/loaded}}{{^loaded}}no (kept for its instances){{/loaded}}</td>
                <td>{{#inUse}}<a href="{{href}}">{{total}}</a>{{/inUse}}{{^inUse}}none{{/inUse}}</td>
                <td>{{#counts}}<a href="{{href}}" class="count status-{{status}}">{{status}} <strong>{{count}}</strong></a> {{/counts}}</td>
                <td><code>{{hashes}}</code></td>
              </tr>
            {{/versions}}
            </tbody>
          </table>
        </section>
        {{/templates}}
        {{> foot}}
        """

    static let consolePlugins = """
        {{> head}}
        {{> console-tabs}}
        <h1>Plugins</h1>
        {{#unavailable}}<p class="card">{{unavailable}}</p>{{/unavailable}}
        {{#plugins}}
        <section class="card plugin" aria-labelledby="p-{{name}}" data-plugin="{{name}}">
          <h2 id="p-{{name}}">{{name}} {{version}} <span class="muted">ABI {{abi}} · {{mode}}</span></h2>
          <p class="{{#quarantined}}error{{/quarantined}}{{^quarantined}}notice{{/quarantined}}"><strong>Health:</strong> {{health}}</p>
          <dl class="pins">
            <dt>Binary (SHA-256)</dt><dd><code>{{sha256}}</code></dd>
            <dt>File</dt><dd><code>{{path}}</code></dd>
            <dt>Steps</dt><dd>{{#steps}}<code>{{name}}</code> {{version}} <span class="muted">({{flags}})</span><br>{{/steps}}{{^steps}}none{{/steps}}</dd>
            <dt>Model adapters</dt><dd>{{#adapters}}<code>{{id}}@{{version}}</code><br>{{/adapters}}{{^adapters}}none{{/adapters}}</dd>
            {{#hasHosts}}<dt>Host processes</dt><dd><ul>{{#hosts}}<li>{{who}}: pids {{pids}}, {{restarts}} restarts, {{crashes}} crashes</li>{{/hosts}}</ul></dd>{{/hasHosts}}
          </dl>
        </section>
        {{/plugins}}
        {{> foot}}
        """

    static let consoleFailed = """
        {{> head}}
        {{> console-tabs}}
        <h1>Failed instances</h1>
        <p>{{total}} failed{{#partial}} (grouped here: the newest {{examined}}){{/partial}}, grouped by template, state, failure kind and message (numbers and ids set aside). Retrying runs the step it failed at again.</p>
        {{^hasGroups}}<p class="card">No instance has failed.</p>{{/hasGroups}}
        {{#groups}}
        <section class="card failure-group" aria-labelledby="{{key}}" data-count="{{count}}" data-state="{{state}}" data-kind="{{kind}}">
          <h2 id="{{key}}"><span class="group-count">{{count}}</span> failed at {{state}} <span class="muted">({{kind}}) · {{template}}</span></h2>
          <p class="error">{{message}}</p>
          <table class="queue">
            <caption class="visually-hidden">The newest instances of this group</caption>
            <thead><tr><th scope="col">Instance</th><th scope="col">Failed</th><th scope="col">Version</th><th scope="col">Customer</th><th scope="col">Action</th></tr></thead>
            <tbody>
            {{#examples}}
              <tr>
                <td><a href="/console/instances/{{id}}"><code>{{id}}</code></a></td>
                <td><time datetime="{{failedISO}}">{{failed}}</time> <span class="muted">({{age}})</span></td>
                <td>{{version}}</td><td>{{customer}}</td>
                <td><form method="post" action="/console/instances/{{id}}/retry"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="retry" aria-label="Retry {{id}}">Retry</button></form></td>
              </tr>
            {{/examples}}
            </tbody>
          </table>
          {{#hasMore}}<p><a href="{{listHref}}">All {{count}} in the instance list</a> ({{more}} more)</p>{{/hasMore}}
        </section>
        {{/groups}}
        {{> foot}}
        """

    static let consoleStyleSheet = """
        .tabs ul { list-style: none; display: flex; gap: .25rem; padding: 0; margin: 0 0 .75rem; border-bottom: 1px solid var(--line); }
        .tabs a { display: block; padding: .4rem .9rem; text-decoration: none; border: 1px solid transparent; border-bottom: 0; border-radius: 4px 4px 0 0; }
        .tabs a[aria-current=page] { border-color: var(--line); background: #fff; color: var(--ink); font-weight: 700; margin-bottom: -1px; }
        .filters { display: flex; flex-wrap: wrap; gap: .25rem 1rem; align-items: end; margin-bottom: .75rem; }
        .filters input[type=text], .filters select { width: 11rem; font: inherit; padding: .35rem; border: 1px solid #767676; border-radius: 4px; }
        .counts .count { display: inline-block; margin: 0 .35rem .35rem 0; padding: .1rem .5rem; border: 1px solid var(--line); border-radius: 999px; text-decoration: none; }
        .counts .count[aria-current=true] { border: 2px solid var(--link); }
        .status { font-weight: 600; }
        .status-failed { color: var(--bad); }
        .status-completed { color: var(--ok); }
        .paging { display: flex; gap: 1rem; margin-top: .75rem; }
        .inline-form { margin: .5rem 0 1rem; }
        .inline-form .hint { margin-left: .5rem; }
        section.card { margin-bottom: 1rem; overflow-x: auto; }
        .pins { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
        .pins dt { font-weight: 600; }
        .pins dd { margin: 0; word-break: break-all; }
        .timeline { padding-left: 1.25rem; }
        .timeline li { margin-bottom: .35rem; }
        .timeline details { margin: .15rem 0 0; }
        svg.diagram .node rect { fill: #fff; stroke: #8a8a8a; stroke-width: 1.5; stroke-dasharray: 4 3; }
        svg.diagram .node.visited rect { fill: #e3f1e8; stroke: var(--ok); stroke-dasharray: none; stroke-width: 2; }
        svg.diagram .node.current rect { fill: #dbe7f6; stroke: var(--link); stroke-dasharray: none; stroke-width: 4; }
        svg.diagram .node.current.failed rect { fill: #f8e0e2; stroke: var(--bad); }
        svg.diagram .node .name { font-weight: 700; }
        svg.diagram .node .mark { font-size: 11px; fill: var(--muted); }
        svg.diagram .node.current .mark { fill: var(--ink); font-weight: 700; }
        svg.diagram .edge path { fill: none; stroke: #9a9a9a; stroke-width: 1.5; }
        svg.diagram .edge.taken path { stroke: var(--ok); stroke-width: 3.5; }
        svg.diagram .arrowhead { fill: #9a9a9a; }
        svg.diagram .arrowhead.taken { fill: var(--ok); }
        svg.diagram .edge-label { font-size: 10px; fill: var(--muted); }
        .legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; font-size: .9rem; }
        .legend svg { vertical-align: middle; }
        .legend .swatch { fill: #fff; stroke: #8a8a8a; stroke-dasharray: 4 3; }
        .legend .swatch.visited { fill: #e3f1e8; stroke: var(--ok); stroke-dasharray: none; stroke-width: 2; }
        .legend .swatch.current { fill: #dbe7f6; stroke: var(--link); stroke-dasharray: none; stroke-width: 3; }
        .legend .swatch-line.taken { stroke: var(--ok); stroke-width: 3.5; }
        .group-count { display: inline-block; min-width: 2rem; text-align: center; background: var(--bad); color: #fff; border-radius: 4px; padding: 0 .4rem; }
        """
}
