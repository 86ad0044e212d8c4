// Koa 3 as the @koa/router quick start writes it (https://github.com/koajs/router), with
// @koa/bodyparser for the JSON body and the bench's two routes.
import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import users from '../users.cjs';

const app = new Koa();
const router = new Router();

app.use(bodyParser());

router.get('/users/:id', (ctx, _next) => {
  ctx.body = users.userFields(ctx.params.id, ctx.query.fields);
});

router.post('/users', (ctx, _next) => {
  ctx.body = users.created(ctx.request.body);
});

// Apply router middleware
app.use(router.routes()).use(router.allowedMethods());

app.listen(process.env.PORT || 3000);
