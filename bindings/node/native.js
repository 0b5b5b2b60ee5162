'use strict';
// The addon `npm install` built (build.js). Its TypeScript declarations are native.d.ts.
module.exports = require('./aarm.node');
