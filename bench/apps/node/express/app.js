// Express 5 as https://expressjs.com/en/starter/hello-world.html writes it, with the bench's two
// routes: a JSON GET with a path parameter and a query, and a JSON POST. Nothing is exported:
// run on its own (`PORT=… node app.js`) it listens; in hostd the same file runs unchanged.
const express = require('express');
const { created, userFields } = require('../users.cjs');

const app = express();
const port = process.env.PORT || 3000;

app.use(express.json());

app.get('/users/:id', (req, res) => {
  res.json(userFields(req.params.id, req.query.fields));
});

app.post('/users', (req, res) => {
  res.json(created(req.body));
});

app.listen(port, () => {
  console.log(`Example app listening on port ${port}`);
});
