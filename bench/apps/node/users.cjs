// What every node app of the bench answers (Express, Fastify, Koa, Next.js), in one place so
// that the apps stay the few lines their guides write and answer the same bytes: the bench
// checks each server's answer against these before measuring (bench/node-apps.ts).
'use strict';

/** The user record behind `GET /users/:id`. */
function user(id) {
  return { id, name: `User ${id}`, email: `user${id}@example.com`, plan: 'pro', active: true };
}

/** `GET /users/:id?fields=a,b`: the record, cut down to the fields asked for (all without `fields`). */
function userFields(id, fields) {
  const u = user(id);
  if (typeof fields !== 'string' || fields === '') return u;
  const out = {};
  for (const f of fields.split(',')) if (Object.hasOwn(u, f)) out[f] = u[f];
  return out;
}

/** `POST /users`: the parsed JSON body, answered back with the id it would be stored under. */
function created(body) {
  return { id: 'u-1001', created: true, user: body };
}

module.exports = { user, userFields, created };
