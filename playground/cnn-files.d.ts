// esbuild's text loader: `import text from "../examples/x.cnn"` is the file's contents.
declare module "*.cnn" {
  const text: string;
  export default text;
}
