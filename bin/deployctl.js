#!/usr/bin/env node
'use strict';
// The CLI is compiled to dist/ by `npm install` (the prepare script) or `npm run build`.
require('../dist/cli/deployctl.js').main(process.argv.slice(2));
